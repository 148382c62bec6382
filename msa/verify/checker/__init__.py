"""Checks the live msa system against the spec the stack rendered, and prints one line per check.

    python3 -m checker --spec spec.json [--settle SECONDS] [--outside NODE] [--only eureka,gateway]

Standard library only, on purpose: the verification Job runs this very package inside the cp-kafka image
(Python 3 next to the Kafka CLI tools), and `python3 tasks.py verify STACK` runs it from a laptop.
Nothing here imports the stack's code; everything it expects comes from the JSON spec
(msa/verify/spec.py renders it from the validated stack config). Its modules import each other
relatively only, so the package runs under any name: `msa.verify.checker` here, `checker` in the Job.

Checks (docs/verification.md):
  eureka   every Eureka client is registered, UP, under its Service's address and port
  gateway  every route answers through the gateway with no 5xx, and like its target when reachable
  config   the config server serves /<name>/default with the config-repo files for <name>
  kafka    replication settings live on every broker; a topic created with them is fully
           replicated; a transaction commits and a read_committed consumer reads it back
  pods     every pod of the stack is Running on the image the stack configured (Harbor for services)

Right after `pulumi up` has seen every workload ready, clients may not have registered yet (Eureka
replicates, gateways refresh their registry every 30 s): failing checks are repeated until they pass
or `--settle` seconds have gone by. Exit status 0 when every check passed (skips allowed), 1 when
one failed, 2 on a usage error. Failing lines also go to the container's termination log, which
`pulumi up` prints when the Job fails.
"""
