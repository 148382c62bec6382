"""The stack's building blocks: pure builders (config, addressing, settings) beside Pulumi components."""
