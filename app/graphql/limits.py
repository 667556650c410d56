"""Query limits: size, depth and cost, applied before any resolver runs."""

from __future__ import annotations

from ariadne.validation import cost_validator
from graphql import DocumentNode, GraphQLError, parse, validate
from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode
from graphql.validation import ValidationRule

MAX_TOKENS = 2000
MAX_SOURCE_LENGTH = 20_000


class DocumentCache:
    """Parsed and validated documents by query text: clients send the same few queries.

    Validation is cached too. That is sound because no field of our schema takes a cost
    multiplier from a variable; if one ever does, the variables must join the key.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.documents: dict[str, DocumentNode] = {}
        self.errors: dict[int, tuple[DocumentNode, list]] = {}

    def parse(self, context, data: dict) -> DocumentNode:
        """Parse with token and length caps, so a huge document is refused early."""
        query = data.get("query")
        if not isinstance(query, str):
            raise GraphQLError("The query must be a string.")
        document = self.documents.get(query)
        if document is None:
            document = parse(
                query, max_lexical_tokens=MAX_TOKENS, max_source_length=MAX_SOURCE_LENGTH
            )
            if len(self.documents) >= self.size:
                self.documents.clear()
                self.errors.clear()
            self.documents[query] = document
        return document

    def validate(self, schema, document, rules=None, max_errors=None, type_info=None) -> list:
        cached = self.errors.get(id(document))
        if cached is not None and cached[0] is document:
            return cached[1]
        errors = validate(schema, document, rules, max_errors=max_errors)
        # Only a clean result is kept: an error can come from one request's variables (the cost
        # rule reads them), and must not be served to the next client sending the same query.
        # The entry holds the document, so its id cannot be reused while cached.
        if not errors:
            self.errors[id(document)] = (document, errors)
        return errors


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    class DepthLimit(ValidationRule):
        def enter_operation_definition(self, node, *_args):
            depth = self._depth(node.selection_set, 0, frozenset())
            if depth > max_depth:
                self.report_error(GraphQLError(f"Query depth {depth} exceeds {max_depth}.", node))

        def _depth(self, selection_set, depth: int, seen: frozenset) -> int:
            if selection_set is None:
                return depth
            deepest = depth
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    if not selection.name.value.startswith("__"):
                        deepest = max(
                            deepest, self._depth(selection.selection_set, depth + 1, seen)
                        )
                elif isinstance(selection, InlineFragmentNode):
                    deepest = max(deepest, self._depth(selection.selection_set, depth, seen))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is not None and name not in seen:
                        deepest = max(
                            deepest, self._depth(fragment.selection_set, depth, seen | {name})
                        )
            return deepest

    return DepthLimit


def validation_rules(max_depth: int, max_cost: int):
    """Rules built per request: the cost rule needs this request's variables (ariadne#1319)."""
    depth_rule = depth_limit_rule(max_depth)

    def rules(context, document, data):
        variables = data.get("variables") if isinstance(data, dict) else None
        return [
            depth_rule,
            cost_validator(maximum_cost=max_cost, default_cost=1, variables=variables or {}),
        ]

    return rules
