"""ValuesOfCorrectType in linear time: no error quotes a large value whole.

graphql-core's rule quotes the whole object literal in every error about it, one for each
unknown field and each missing required field. ``createServiceOffer(input: {a0:1 ... a319:1})``
(320 unknown fields, 2.2 KB, within every limit) made 20 errors of 3 KB each before validation
stopped: printing the object twenty times was 30 of the 57 ms the document took, and the
answer was 72 KB (``bench/abuse_shapes.py``, "unknown fields in an input object"). With a
field holding a long list or string beside them, the answer grew to 20 times the document.

So a value of at most :data:`QUOTED_CHARACTERS` characters is checked by graphql-core as it
is (its errors, word for word), and a larger object or list is walked here, one level at a
time, with the same checks and messages but quoting only the value's first
:data:`QUOTED_CHARACTERS` characters as written. What lies within it is checked the same way,
so each value is walked once and every error quotes at most a few hundred characters. Anything
else (a leaf, a variable, a null, a list or object where the type expects something else) goes
to graphql-core, which quotes that value once at most.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    SKIP,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    ListValueNode,
    Node,
    NullValueNode,
    ObjectValueNode,
    ValueNode,
    ValuesOfCorrectTypeRule,
    VisitorAction,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.pyutils import did_you_mean, suggestion_list
from graphql.utilities import validate_input_literal

QUOTED_CHARACTERS = 200
"""Characters of a value an error quotes at most: a value this long or shorter is quoted
whole, as graphql-core prints it (20 errors, the most validation reports, then print a few
kilobytes in all)."""


class InputValuesRule(ValuesOfCorrectTypeRule):
    """Every value literal is of the type expected where it stands (the specification's
    "Values of Correct Type"), each checked once and quoted within :data:`QUOTED_CHARACTERS`."""

    def is_valid_value_node(
        self, node: ValueNode, input_type: GraphQLInputType | None
    ) -> VisitorAction:
        if input_type is not None:
            self._check(node, input_type)
        return SKIP  # the value's own values are checked with it

    def _check(self, node: ValueNode, type_: GraphQLInputType) -> None:
        if not _large(node):
            validate_input_literal(
                node, type_, self._on_error, hide_suggestions=self.context.hide_suggestions
            )
            return
        # A large list or object is never null: a non-null type is its inner type here.
        inner = type_.of_type if is_non_null_type(type_) else type_
        if is_list_type(inner) and isinstance(node, ListValueNode):
            for item in node.values:
                self._check(item, inner.of_type)
        elif is_input_object_type(inner) and isinstance(node, ObjectValueNode):
            self._check_object(node, inner)
        else:
            # A list taken for a list of one, or a value of the wrong kind (quoted once).
            validate_input_literal(
                node, type_, self._on_error, hide_suggestions=self.context.hide_suggestions
            )

    def _check_object(self, node: ObjectValueNode, type_: GraphQLInputObjectType) -> None:
        """graphql-core's checks of an input object, in its order: each field of the type
        (missing, or its value), then each unknown field, then a OneOf's one field."""
        given = {field.name.value: field for field in node.fields}
        for name, field in type_.fields.items():
            written = given.get(name)
            if written is not None:
                self._check(written.value, field.type)
            elif is_required_input_field(field):
                self._report(
                    f"Expected value of type '{type_}' to include required field '{name}',"
                    f" found: {_quoted(node)}.",
                    node,
                )
        known = []
        for written in node.fields:
            name = written.name.value
            if name in type_.fields:
                known.append(written)
                continue
            suggestion = (
                ""
                if self.context.hide_suggestions
                else did_you_mean(suggestion_list(name, list(type_.fields)))
            )
            self._report(
                f"Expected value of type '{type_}' not to include unknown field '{name}'"
                + (f".{suggestion} Found" if suggestion else ", found")
                + f": {_quoted(node)}.",
                written,
            )
        if type_.is_one_of and (len(known) != 1 or isinstance(known[0].value, NullValueNode)):
            self._report(
                f"Within OneOf Input Object type '{type_}', exactly one field must be"
                " specified, and the value for that field must be non-null.",
                node,
            )

    def _report(self, message: str, node: Node) -> None:
        self.report_error(GraphQLError(message, node))

    def _on_error(self, error: GraphQLError, _path: Any) -> None:
        self.report_error(error)


def _large(node: ValueNode) -> bool:
    """Whether ``node`` is a list or object written in more than :data:`QUOTED_CHARACTERS`
    characters (without locations, its size is unknown: graphql-core checks it)."""
    loc = node.loc
    return (
        isinstance(node, ListValueNode | ObjectValueNode)
        and loc is not None
        and loc.end - loc.start > QUOTED_CHARACTERS
    )


def _quoted(node: ValueNode) -> str:
    """The first :data:`QUOTED_CHARACTERS` characters of ``node`` as written, whitespace
    runs made one space, and an ellipsis."""
    loc = node.loc
    assert loc is not None  # only large values are quoted here
    written = loc.source.body[loc.start : loc.start + QUOTED_CHARACTERS]
    return " ".join(written.split()) + " …"
