"""The stack's building blocks, one package per domain; pure settings sit on the floor below the
components (modules that create Pulumi resources) of their domain.

    errors, names                      ConfigError; every fixed object name, reserved name and port
    addressing                         ClusterIP/NodePort planning (pure)
    config/                            every msa:* key typed and validated; imports no component
    k8s                                shared object builders (labels, security contexts, FORCE_APPLY)
    kafka/ spring/ images/ nodes/      one domain each: settings, components, scripts/
    network, adoption                  NetworkPolicies; the import document of an adoption run
    verify/                            what the live system must show, the checker (a package shipped into the Job), the Job
    render/                            the offline render: mock engine, output files, output folder (render.py runs it)

tests/test_layout.py keeps it so: no import circle between modules or packages, config imports no
component, modules of at most 400 lines, functions of at most 60.
"""

# The release (CHANGELOG.md); shown by every command's --version. Plain Python: no import here.
__version__ = "0.2.0"
