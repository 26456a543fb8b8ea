/* xml.c — aws_xml_parse: expat's callbacks build the small element tree of xml.h. Expat
 * rather than libxml2 because Debian's libxml2 brings ICU and libstdc++ into every
 * daemon (~2.5 MB of resident library pages each) to read a few elements of SNS answers. */
#include "aws/xml.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "base/buf.h"

/* One open element: its node, its last child so far (appends are O(1)), its text. */
struct frame {
	struct aws_xml_node *node;
	struct aws_xml_node *last;
	struct buf text;
};

struct tree {
	XML_Parser parser;
	size_t text_max; /* no element's text is longer than the document */
	struct aws_xml_node *root;
	struct frame open[AWS_XML_DEPTH_MAX];
	size_t depth;
	enum rc rc;
};

static void tree_fail(struct tree *t, enum rc rc)
{
	if (t->rc == RC_OK)
		t->rc = rc;
	XML_StopParser(t->parser, XML_FALSE);
}

static void XMLCALL on_start(void *ctx, const XML_Char *name, const XML_Char **attrs)
{
	struct tree *t = ctx;
	const char *local = strrchr(name, ':');
	struct aws_xml_node *n;
	struct frame *f;

	(void)attrs;
	/* expat may still call after a stop: nothing more is built then */
	if (t->rc != RC_OK)
		return;
	if (t->depth == AWS_XML_DEPTH_MAX) {
		tree_fail(t, RC_IO);
		return;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL || (n->name = strdup(local != NULL ? local + 1 : name)) == NULL) {
		free(n);
		tree_fail(t, RC_NOMEM);
		return;
	}
	if (t->depth == 0) {
		t->root = n;
	} else {
		struct frame *parent = &t->open[t->depth - 1];

		if (parent->last == NULL)
			parent->node->children = n;
		else
			parent->last->next = n;
		parent->last = n;
	}
	f = &t->open[t->depth++];
	f->node = n;
	f->last = NULL;
	buf_init(&f->text, t->text_max);
}

static void XMLCALL on_end(void *ctx, const XML_Char *name)
{
	struct tree *t = ctx;
	struct frame *f;

	(void)name;
	if (t->rc != RC_OK || t->depth == 0)
		return;
	f = &t->open[--t->depth];
	f->node->text = buf_take(&f->text);
	if (f->node->text == NULL)
		tree_fail(t, RC_NOMEM);
}

static void XMLCALL on_text(void *ctx, const XML_Char *s, int len)
{
	struct tree *t = ctx;
	enum rc rc;

	if (t->rc != RC_OK || t->depth == 0 || len <= 0)
		return;
	rc = buf_append(&t->open[t->depth - 1].text, s, (size_t)len);
	if (rc != RC_OK)
		tree_fail(t, rc == RC_NOMEM ? RC_NOMEM : RC_IO);
}

/* AWS answers have no DTD; refusing one leaves no entity to declare, expand or fetch. */
static void XMLCALL on_doctype(void *ctx, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	tree_fail(ctx, RC_IO);
}

enum rc aws_xml_parse(const char *xml, size_t len, struct aws_xml_node **root)
{
	struct tree t = {.text_max = len, .rc = RC_OK};

	*root = NULL;
	if (xml == NULL || len == 0 || len > INT_MAX)
		return RC_IO;
	t.parser = XML_ParserCreate(NULL);
	if (t.parser == NULL)
		return RC_NOMEM;
	XML_SetUserData(t.parser, &t);
	XML_SetElementHandler(t.parser, on_start, on_end);
	XML_SetCharacterDataHandler(t.parser, on_text);
	XML_SetStartDoctypeDeclHandler(t.parser, on_doctype);
	if (XML_Parse(t.parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK && t.rc == RC_OK)
		t.rc = XML_GetErrorCode(t.parser) == XML_ERROR_NO_MEMORY ? RC_NOMEM : RC_IO;
	XML_ParserFree(t.parser);
	/* elements left open by a stop: their text was never taken */
	while (t.depth > 0)
		buf_cleanup(&t.open[--t.depth].text);
	if (t.rc == RC_OK && t.root == NULL)
		t.rc = RC_IO;
	if (t.rc != RC_OK) {
		aws_xml_free(t.root);
		return t.rc;
	}
	*root = t.root;
	return RC_OK;
}

/* Recursion follows children only, at most AWS_XML_DEPTH_MAX deep. */
void aws_xml_free(struct aws_xml_node *n)
{
	while (n != NULL) {
		struct aws_xml_node *next = n->next;

		aws_xml_free(n->children);
		free(n->name);
		free(n->text);
		free(n);
		n = next;
	}
}

const struct aws_xml_node *aws_xml_find(const struct aws_xml_node *n, const char *name)
{
	for (; n != NULL; n = n->next) {
		const struct aws_xml_node *hit;

		if (strcmp(n->name, name) == 0)
			return n;
		hit = aws_xml_find(n->children, name);
		if (hit != NULL)
			return hit;
	}
	return NULL;
}

const struct aws_xml_node *aws_xml_child(const struct aws_xml_node *parent, const char *name)
{
	for (const struct aws_xml_node *n = parent != NULL ? parent->children : NULL; n != NULL;
	     n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

size_t aws_xml_count(const struct aws_xml_node *parent, const char *name)
{
	size_t count = 0;

	for (const struct aws_xml_node *n = parent->children; n != NULL; n = n->next)
		if (strcmp(n->name, name) == 0)
			count++;
	return count;
}

char *aws_xml_text_dup(const struct aws_xml_node *n)
{
	const char *s = n != NULL && n->text != NULL ? n->text : "";
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	return strndup(s, len);
}
