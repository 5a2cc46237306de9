r"""A build hook of the documentation site: Python blocks written as doctests are shown as console sessions.

The guides write their examples as doctests in ```` ```python ```` fences, so that
the test suite runs them (``pytest --doctest-glob=*.md``). Highlighted as plain
Python, the ``>>>`` prompts and the printed results would be coloured like code;
as ``pycon`` (Pygments' Python console lexer) the prompts and the output are
set apart from the input. Only the rendering changes; the page source, which the
tests read, stays as written.

>>> page = "```python\n>>> 1 + 1\n2\n```\n\n```python\nx = 1\n```"
>>> on_page_markdown(page).splitlines()[0], on_page_markdown(page).splitlines()[5]
('```pycon', '```python')
"""

from __future__ import annotations

import re
from typing import Any

_DOCTEST_FENCE = re.compile(r"^(\s*)```python[ \t]*\n(?=\s*>>> )", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """The page's markdown with every ```` ```python ```` fence whose first line is a ``>>>`` prompt made ``pycon``."""
    return _DOCTEST_FENCE.sub(lambda match: f"{match.group(1)}```pycon\n", markdown)
