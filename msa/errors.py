"""The one error type a configuration mistake becomes.

Its text is the contract users see: `msa:<key path>: <what is wrong; how to fix it>`. Under `pulumi up`
it is raised as `pulumi.RunError` (the CLI prints it without a traceback); under `render.py` it is
printed as `error: <text>` with exit status 2.
"""


class ConfigError(Exception):
    """A configuration value is wrong. `key` is the path below `msa:` (e.g. `kafka.brokers`)."""

    def __init__(self, key: str, problem: str, namespace: str = "msa"):
        # `namespace` is only ever not msa for a key outside this program's namespace (`msq:kafka`).
        self.key = key
        self.problem = problem
        text = f"{namespace}:{key}: {problem}" if namespace else f"{key}: {problem}"
        # One line, whatever a key or value holds: control characters are shown escaped.
        super().__init__("".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text))
