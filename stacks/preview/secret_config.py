"""Which config keys the stack reads as secrets, and the refusal of any written in plaintext."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.checks.problems import ConfigProblem
from stacks.config.platform import PlatformConfig
from stacks.preview.stack_file import StackFile
from stacks.program.secrets import required_secrets


def secret_keys(project: str, cfg: PlatformConfig) -> list[str]:
    """Namespaced config keys the program reads with `require_secret` for this config (the
    list `hybrid-ml secrets` prints)."""
    return sorted(f"{project}:{s.key}" for s in required_secrets(cfg))


@dataclass(frozen=True)
class _PlaintextSecret(ConfigProblem):
    # Unlike other problems the value is never shown: printing it would leak it again.
    def __str__(self) -> str:
        return f"{self.path}: {self.allowed}"


def set_secret_command(stack_file: StackFile, key: str) -> str:
    """The command that stores `key` encrypted; it prompts for the value (no shell history)."""
    short = key.removeprefix(f"{stack_file.project}:")
    return f"pulumi config set --secret {short} --stack {stack_file.stack}"


def plaintext_secrets(stack_file: StackFile, cfg: PlatformConfig) -> list[ConfigProblem]:
    """A problem for each secret key whose value sits in the stack file without `secure:`."""
    return [
        _PlaintextSecret(
            key, None,
            f"is a secret but Pulumi.{stack_file.stack}.yaml holds it in plaintext (value not "
            f"shown); store it encrypted with `{set_secret_command(stack_file, key)}` (it prompts "
            "for the value and replaces the line), and rotate it if the plaintext was committed")
        for key in secret_keys(stack_file.project, cfg) if key in stack_file.config
    ]
