"""The ClusterIPs of a running stack never change by accident.

A Service's `spec.clusterIP` is immutable: pulumi-kubernetes replaces the Service to change it (delete,
re-create), Eureka clients that registered the old address (`spring.registration: clusterIP`) lose
their peers, and anything outside the cluster that kept the address breaks. addressing.py derives an
address from the name alone, so adding, removing or pinning another Service moves none; this guard is
the other half: whatever still changes an existing Service's address (a new `serviceCidr`, a changed
`clusterIP` pin, a future msa release that derives differently) is refused before any Service is
touched, unless `msa:allowAddressChange` names the Service.

How it knows the previous addresses: as the storage guard (kafka/storage.py), an `AddressGuard`
(Pulumi dynamic resource) keeps the planned addresses as its inputs in the stack's state, and its
provider's `check` gets those recorded inputs next to the new ones on every preview and up. Every
Service waits for the guard. On the first up there is nothing recorded and nothing is refused; a Service
that is removed drops out of the record, so its name may come back with any address.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from pulumi import dynamic

PREFIX = "clusterIP."
ALLOW_KEY = "allowAddressChange"


def guard_inputs(cluster_ips: Mapping[str, str], allowed: Iterable[str]) -> dict[str, str]:
    """Flat inputs, one per Service (`clusterIP.<service>`), and the allowed names as one text."""
    return {**{PREFIX + name: ip for name, ip in sorted(cluster_ips.items())}, ALLOW_KEY: ",".join(sorted(allowed))}


def address_change_problems(old: Mapping[str, str], new: Mapping[str, str]) -> list[tuple[str, str]]:
    """(property, one-line message) for each existing Service whose address would change unallowed."""
    allowed = {n for n in str(new.get(ALLOW_KEY, "")).split(",") if n}
    problems = []
    for key in sorted(k for k in new if k.startswith(PREFIX)):
        service = key[len(PREFIX):]
        before, after = old.get(key), new[key]
        if before is None or before == after or service in allowed:
            continue
        problems.append((key, f"{service}: its Service has ClusterIP {before} and would get {after} (re-created, its clients lose the "
                              f"address); keep it (msa:services.{service}.clusterIP: {before}, or the old msa:cluster.serviceCidr) or allow "
                              f"it once with msa:allowAddressChange: [{service}]"))
    return problems


class AddressGuardProvider(dynamic.ResourceProvider):
    """Refuses changes of existing ClusterIPs; stores the addresses, creates nothing."""

    def check(self, _olds, news):
        old = {k: v for k, v in (_olds or {}).items() if k.startswith(PREFIX)}
        failures = [dynamic.CheckFailure(key, message) for key, message in address_change_problems(old, news)]
        return dynamic.CheckResult(news, failures)

    def create(self, props):
        return dynamic.CreateResult(id_="cluster-ips", outs=props)

    def diff(self, _id, _olds, _news):
        keys = {k for k in set(_olds) | set(_news) if k.startswith(PREFIX) or k == ALLOW_KEY}
        return dynamic.DiffResult(changes=any(_olds.get(k) != _news.get(k) for k in keys))

    def update(self, _id, _olds, _news):
        return dynamic.UpdateResult(outs=_news)


class AddressGuard(dynamic.Resource):
    def __init__(self, name: str, cluster_ips: Mapping[str, str], allowed: Iterable[str], opts=None):
        super().__init__(AddressGuardProvider(), name, guard_inputs(cluster_ips, allowed), opts)
