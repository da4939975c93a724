"""A small structural reader of declarative Jenkinsfiles: blocks (`name(args) { ... }`) and the statements in them.

It knows Groovy's comments and string forms ('...', "...", '''...''', \"\"\"...\"\"\"), so braces inside a shell
script or a message do not count, and it raises `JenkinsfileError` on an unbalanced brace or parenthesis or an
unclosed string or comment. It does not know Groovy's semantics: the declarative checks are the tests' business.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field


class JenkinsfileError(ValueError):
    pass


@dataclass
class Block:
    head: str  # e.g. "pipeline", "stage('hih run')", "always"
    line: int
    statements: list[str] = field(default_factory=list)
    children: list[Block] = field(default_factory=list)

    @property
    def name(self) -> str:
        return re.split(r"[\s(]", self.head, maxsplit=1)[0]

    def blocks(self, name: str) -> list[Block]:
        return [c for c in self.children if c.name == name]

    def block(self, name: str) -> Block:
        found = self.blocks(name)
        if len(found) != 1:
            raise JenkinsfileError(f"{self.head} (line {self.line}) has {len(found)} {name!r} blocks, not one")
        return found[0]

    def walk(self) -> Iterator[Block]:
        yield self
        for child in self.children:
            yield from child.walk()

    def text(self) -> str:
        """Every statement in this block and below, one a line."""
        return "\n".join(s for b in self.walk() for s in b.statements)


_STRING_OPENERS = ("'''", '"""', "'", '"')


def _scan(source: str) -> Iterator[tuple[str, str, int]]:
    """Tokens (kind, text, line): kind is 'code', 'string', 'open', 'close' or 'end' (a statement end)."""
    i, line, n = 0, 1, len(source)
    code: list[str] = []

    def flush() -> Iterator[tuple[str, str, int]]:
        if code:
            yield "code", "".join(code), line
            code.clear()

    while i < n:
        ch = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise JenkinsfileError(f"line {line}: unclosed /* comment")
            line += source.count("\n", i, end)
            i = end + 2
            continue
        opener = next((q for q in _STRING_OPENERS if source.startswith(q, i)), None)
        if opener:
            j = i + len(opener)
            while True:
                if j >= n:
                    raise JenkinsfileError(f"line {line}: unclosed string {opener}")
                if source[j] == "\\":
                    j += 2
                    continue
                if len(opener) == 1 and source[j] == "\n":
                    raise JenkinsfileError(f"line {line}: string {opener} runs past the end of the line")
                if source.startswith(opener, j):
                    break
                j += 1
            literal = source[i:j + len(opener)]
            code.append(literal)
            line += literal.count("\n")
            i = j + len(opener)
            continue
        if ch in "{}":
            yield from flush()
            yield ("open" if ch == "{" else "close"), ch, line
        elif ch in "\n;":
            yield from flush()
            yield "end", ch, line
            line += ch == "\n"
        else:
            code.append(ch)
        i += 1
    yield from flush()


def parse(source: str) -> Block:
    """The file as a root block whose children are its top-level blocks."""
    root = Block("<file>", 0)
    stack = [root]
    parens = 0
    pending = ""
    for kind, text, line in _scan(source):
        if kind == "code":
            stripped = re.sub(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", "", text, flags=re.S)
            parens += stripped.count("(") + stripped.count("[") - stripped.count(")") - stripped.count("]")
            if parens < 0:
                raise JenkinsfileError(f"line {line}: unbalanced ) or ]")
            pending = f"{pending} {text}".strip() if pending else text.strip()
        elif kind == "end":
            if pending and parens == 0:
                stack[-1].statements.append(pending)
                pending = ""
            elif pending:
                pending += "\n"
        elif kind == "open":
            block = Block(pending.strip(), line)
            stack[-1].children.append(block)
            stack.append(block)
            pending = ""
        else:
            if pending.strip():
                stack[-1].statements.append(pending.strip())
                pending = ""
            if len(stack) == 1:
                raise JenkinsfileError(f"line {line}: unbalanced }}")
            stack.pop()
    if len(stack) > 1:
        raise JenkinsfileError(f"unclosed block {stack[-1].head!r} from line {stack[-1].line}")
    if parens:
        raise JenkinsfileError("unbalanced ( or [")
    if pending.strip():
        root.statements.append(pending.strip())
    return root
