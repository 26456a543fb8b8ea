/* test_aws_xml.c — the element tree of Query-protocol answers (lib/aws/xml.c): what it
 * keeps, what it refuses, and that a refused document leaves nothing behind (LSan). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "base/buf.h"
#include "itest.h"

static struct aws_xml_node *parse_ok(const char *xml)
{
	struct aws_xml_node *root = NULL;

	ck_assert_int_eq(aws_xml_parse(xml, strlen(xml), &root), RC_OK);
	ck_assert_ptr_nonnull(root);
	return root;
}

static void parse_refused(const char *xml, const char *why)
{
	struct aws_xml_node *root = (struct aws_xml_node *)1;

	ck_assert_msg(aws_xml_parse(xml, strlen(xml), &root) == RC_IO, "accepted: %s", why);
	ck_assert_ptr_null(root);
}

/* The text of the first <name> of doc, trimmed (freed by the caller). */
static char *text_of(const struct aws_xml_node *root, const char *name)
{
	char *t = aws_xml_text_dup(aws_xml_find(root, name));

	ck_assert_ptr_nonnull(t);
	return t;
}

START_TEST(test_tree_of_an_answer)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<sns:PublishResponse xmlns:sns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n"
		"  <sns:PublishResult>\n"
		"    <sns:MessageId id=\"ignored\">  m-1 &amp; &#x41;<![CDATA[<raw>]]>  </sns:MessageId>\n"
		"    <!-- a comment --><?pi dropped?>\n"
		"    <Empty/>\n"
		"    <member>a</member><member>b</member><other/><member>c</member>\n"
		"  </sns:PublishResult>\n"
		"  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
		"</sns:PublishResponse>";
	struct aws_xml_node *root = parse_ok(xml);
	const struct aws_xml_node *result;
	char *t;

	/* the prefix is dropped: the names are the local ones */
	ck_assert_str_eq(root->name, "PublishResponse");
	result = aws_xml_child(root, "PublishResult");
	ck_assert_ptr_nonnull(result);
	ck_assert_ptr_null(aws_xml_child(root, "MessageId")); /* a grandchild, not a child */
	ck_assert_ptr_eq(aws_xml_find(root, "MessageId"), aws_xml_child(result, "MessageId"));
	t = text_of(root, "MessageId"); /* entities and CDATA decoded, white space trimmed */
	ck_assert_str_eq(t, "m-1 & A<raw>");
	free(t);
	t = text_of(root, "Empty");
	ck_assert_str_eq(t, "");
	free(t);
	t = text_of(root, "RequestId"); /* found in a later sibling's subtree */
	ck_assert_str_eq(t, "r-1");
	free(t);
	ck_assert_uint_eq(aws_xml_count(result, "member"), 3);
	ck_assert_uint_eq(aws_xml_count(result, "absent"), 0);
	ck_assert_ptr_null(aws_xml_find(root, "absent"));
	ck_assert_ptr_null(aws_xml_child(NULL, "member"));
	t = aws_xml_text_dup(NULL);
	ck_assert_str_eq(t, "");
	free(t);
	aws_xml_free(root);
	aws_xml_free(NULL);
}
END_TEST

START_TEST(test_refused)
{
	struct aws_xml_node *root = (struct aws_xml_node *)1;

	parse_refused("<a><b></a>", "mismatched tags");
	parse_refused("<a>", "unclosed");
	parse_refused("<a/><b/>", "two roots");
	parse_refused("<a/>junk", "text after the root");
	parse_refused("just text", "no element");
	parse_refused("  ", "white space only");
	parse_refused("<html><body>502 Bad Gateway<br></body></html>", "HTML");
	parse_refused("<a>&undefined;</a>", "an undeclared entity");
	parse_refused("<a>&#0;</a>", "a NUL character reference");
	/* a DTD is refused whatever it declares: no entity is ever declared, expanded or fetched */
	parse_refused("<!DOCTYPE a><a/>", "a DTD");
	parse_refused("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM "
		      "\"file:///etc/passwd\">]><r>&e;</r>",
		      "an external entity");
	parse_refused("<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">"
		      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;\">]><r>&c;&c;&c;</r>",
		      "nested internal entities");
	ck_assert_int_eq(aws_xml_parse(NULL, 4, &root), RC_IO);
	ck_assert_ptr_null(root);
	ck_assert_int_eq(aws_xml_parse("<a/>", 0, &root), RC_IO);
	ck_assert_ptr_null(root);
}
END_TEST

/* <e><e>...</e></e>, n deep */
static char *nested(size_t n)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 16);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(buf_puts(&b, "<e>"), RC_OK);
	ck_assert_int_eq(buf_puts(&b, "x"), RC_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(buf_puts(&b, "</e>"), RC_OK);
	s = buf_take(&b);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(test_depth_bound)
{
	char *deep = nested(AWS_XML_DEPTH_MAX);
	char *deeper = nested(AWS_XML_DEPTH_MAX + 1);
	char *much_deeper = nested(5000);
	struct aws_xml_node *root = parse_ok(deep);
	const struct aws_xml_node *n = root;
	size_t depth = 1;

	while (n->children != NULL) {
		n = n->children;
		depth++;
	}
	ck_assert_uint_eq(depth, AWS_XML_DEPTH_MAX);
	ck_assert_str_eq(n->text, "x");
	aws_xml_free(root);
	parse_refused(deeper, "one element too deep");
	parse_refused(much_deeper, "5 000 elements deep");
	free(deep);
	free(deeper);
	free(much_deeper);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_xml");
	TCase *tc = tcase_create("xml");

	tcase_add_test(tc, test_tree_of_an_answer);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_depth_bound);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
