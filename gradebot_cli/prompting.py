"""Prompt templates: loading, teacher overrides, rendering and versioning.

Templates are Markdown files with ``$name`` placeholders (Python's
``string.Template``; write ``$$`` for a literal dollar sign). The defaults ship in
the package; a teacher's prompts folder overrides any file with the same name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from string import Template

from gradebot_cli.errors import ConfigError

TEMPLATE_NAMES = ("system.md", "submission.md", "retry.md")
# The placeholders each template is rendered with.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "system.md": ("title", "subject", "grade_level", "instructions", "rubric", "tone"),
    "submission.md": ("file_name", "submission"),
    "retry.md": ("errors", "previous_answer"),
}


def default_prompts_dir() -> Path:
    """Return the bundled templates folder.

    A built wheel carries them in ``gradebot_cli/prompts``; a source checkout keeps
    them in the top-level ``prompts`` folder.
    """
    package_copy = Path(__file__).parent / "prompts"
    if package_copy.is_dir():
        return package_copy
    return Path(__file__).resolve().parent.parent / "prompts"


@dataclass(frozen=True)
class PromptSet:
    templates: dict[str, str]
    sources: dict[str, Path]

    @property
    def version(self) -> str:
        """A short hash of every template's text; changes when any prompt changes."""
        digest = hashlib.sha256()
        for name in TEMPLATE_NAMES:
            digest.update(name.encode())
            digest.update(b"\0")
            digest.update(self.templates[name].encode())
            digest.update(b"\0")
        return "p-" + digest.hexdigest()[:10]

    def render(self, name: str, **values: str) -> str:
        template = Template(self.templates[name])
        try:
            return template.substitute(values).strip()
        except KeyError as exc:
            raise ConfigError(
                f"{self.sources[name]}: unknown placeholder ${exc.args[0]}. Available: "
                + ", ".join(f"${key}" for key in sorted(values))
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"{self.sources[name]}: invalid placeholder ({exc}). Write $$ for a "
                "literal dollar sign."
            ) from None


def load_prompts(override_dir: Path | None = None) -> PromptSet:
    """Load the bundled templates, replacing any that ``override_dir`` provides."""
    if override_dir is not None and not override_dir.is_dir():
        raise ConfigError(f"Prompts folder {override_dir} does not exist.")
    base = default_prompts_dir()
    templates: dict[str, str] = {}
    sources: dict[str, Path] = {}
    for name in TEMPLATE_NAMES:
        path = base / name
        if override_dir is not None and (override_dir / name).is_file():
            path = override_dir / name
        try:
            templates[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: cannot read the prompt template ({exc})."
            ) from None
        sources[name] = path
    prompts = PromptSet(templates, sources)
    # Render every template once now, so a mistake in one that is used only for
    # re-asks stops the run before anything is sent, not in the middle of it.
    for name, placeholders in PLACEHOLDERS.items():
        prompts.render(name, **dict.fromkeys(placeholders, ""))
    return prompts
