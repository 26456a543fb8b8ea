/* xml.h — the element tree of an XML answer of the Query protocol (SNS answers and their
 * <ErrorResponse>s), read with expat. Elements and their own text only: attributes,
 * comments and processing instructions are dropped, a DTD is refused (no entity of any
 * kind is ever declared, so none is expanded or fetched). */
#ifndef APPT_AWS_XML_H
#define APPT_AWS_XML_H

#include <stddef.h>

#include "base/rc.h"

#define AWS_XML_DEPTH_MAX 32 /* AWS answers nest 4-5 deep; deeper is refused, not walked */

struct aws_xml_node {
	char *name;                    /* local name: a namespace or prefix is dropped */
	char *text;                    /* the element's own character data, "" when none */
	struct aws_xml_node *children; /* first child element */
	struct aws_xml_node *next;     /* next sibling element */
};

/* Parses len bytes into a tree whose root element is *root (free with aws_xml_free).
 * RC_IO for anything but one well-formed document without a DTD nesting at most
 * AWS_XML_DEPTH_MAX elements, RC_NOMEM; *root is NULL on failure. */
enum rc aws_xml_parse(const char *xml, size_t len, struct aws_xml_node **root) MUSTCHECK;
void aws_xml_free(struct aws_xml_node *root);

/* The first element named name at or below n and its following siblings, depth first, or
 * NULL. */
const struct aws_xml_node *aws_xml_find(const struct aws_xml_node *n, const char *name);
/* The first child element of parent named name, or NULL (parent NULL included). */
const struct aws_xml_node *aws_xml_child(const struct aws_xml_node *parent, const char *name);
/* How many child elements of parent are named name. */
size_t aws_xml_count(const struct aws_xml_node *parent, const char *name);
/* The text of n without the white space around it (pretty-printed answers carry their
 * indentation), as a new string; "" for n NULL; NULL only on NOMEM. */
char *aws_xml_text_dup(const struct aws_xml_node *n);

#endif
