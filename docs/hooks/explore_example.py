"""A build hook of the documentation site: the explorer's example page, made when the site is built.

``explore-example.html`` is the page that ``tinygrad-mnist explore`` writes, for
``f(x, W, b) = sum(tanh(W @ x + b) * x)``; the tutorial and the explorer's own page
link to it. It is generated from the engine at every build, so it never goes stale and
is not kept in the repository.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files

from tinygrad_mnist.mnist.explore_command import explore_example

EXAMPLE = "explore-example.html"


def on_files(files: Files, config: Any, **_: Any) -> Files:
    """Add the generated example page to the site's files."""
    files.append(File.generated(config, EXAMPLE, content=explore_example().html()))
    return files
