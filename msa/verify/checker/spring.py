"""The Spring Cloud checks: Eureka registrations, the gateway's routes, the config server's files."""

from __future__ import annotations

import re
import urllib.parse
from typing import Callable, Optional

from .results import Result, failed, passed, skipped
from .web import Response, as_list, http_get, unreachable

IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


# --- eureka -------------------------------------------------------------------------------------------

def eureka_checks(spec: dict, get: Optional[Callable[..., Response]] = None) -> list[Result]:
    get = get or http_get
    discovery = spec["discovery"]
    mode = spec["registration"]
    try:
        answer = get(discovery["url"].rstrip("/") + "/eureka/apps")
    except OSError as error:
        return [failed("eureka", discovery["name"], f"{discovery['url']} {unreachable(error)}")]
    if answer.status != 200:
        return [failed("eureka", discovery["name"], f"/eureka/apps answered {answer.status}")]
    try:
        apps = {a["name"].upper(): as_list(a.get("instance")) for a in as_list(answer.json()["applications"].get("application"))}
    except (ValueError, KeyError, TypeError, AttributeError):
        return [failed("eureka", discovery["name"], "/eureka/apps is not Eureka's JSON registry (is this the discovery service?)")]
    results = []
    for client in spec["eurekaClients"]:
        results.append(_eureka_client(client, apps.get(client["name"].upper(), []), mode))
    return results


def _eureka_client(client: dict, instances: list, mode: str) -> Result:
    name, port, address = client["name"], client["port"], client.get("address")
    want = f"{address or 'a pod IP'}:{port}"
    if not instances:
        if not client.get("required", True):
            return passed("eureka", name, "not registered, and need not be (clients find it by its URL, not through Eureka)")
        return failed("eureka", name, f"not registered; expected UP at {want} (the app must run and register with the discovery service)")
    problems = []
    for inst in instances:
        host = str(inst.get("hostName", ""))
        ident = inst.get("instanceId") or host
        try:
            inst_port = int((inst.get("port") or {}).get("$"))
        except (TypeError, ValueError):
            inst_port = None
        status = inst.get("status")
        if mode == "podIP":
            where_ok = bool(IPV4.match(host)) and host == inst.get("ipAddr")
        elif mode == "clusterIP":
            where_ok = host == address and inst.get("ipAddr") == address
        else:
            where_ok = host == address
        if not where_ok:
            hint = " (a pod host name: other services cannot resolve it; the gateway answers 500)" if _looks_like_pod_name(host) else ""
            problems.append(f"instance {ident} registered as {host}:{inst_port}, expected {want} (msa:spring.registration {mode}){hint}")
        elif inst_port != port:
            problems.append(f"instance {ident} registered port {inst_port}, expected {port}")
        elif status != "UP":
            problems.append(f"instance {ident} is {status}, expected UP")
    if problems:
        return failed("eureka", name, "; ".join(problems))
    count = len(instances)
    return passed("eureka", name, f"UP at {want} ({count} instance{'s' if count != 1 else ''})")


def _looks_like_pod_name(host: str) -> bool:
    # Deployment pods are named <deployment>-<replicaset hash>-<5 chars>; no dots, not an address.
    return bool(host) and "." not in host and not IPV4.match(host)


# --- gateway ------------------------------------------------------------------------------------------

def probe_path(pattern: str) -> str:
    """A request path the route's Path predicate matches: `/user-service/**` -> `/user-service/actuator/health`.

    A Spring app's health endpoint makes a 200 that proves routing when the route strips its prefix; with
    the prefix kept, the app's own 404 proves it just as well (the gateway itself never answers 5xx for it).
    """
    parts = [p for p in pattern.split("/") if p]
    literal = []
    for part in parts:
        if part == "**":
            break
        literal.append("msa-verify" if ("*" in part or "{" in part) else part)
    return "/" + "/".join(literal + ["actuator", "health"])


def forwarded_path(path: str, strip_prefix: int) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[strip_prefix:])


def gateway_checks(spec: dict, get: Optional[Callable[..., Response]] = None) -> list[Result]:
    get = get or http_get
    gateway = spec.get("gateway")
    if not gateway:
        return [skipped("gateway", "-", "no service has role: gateway")]
    # The gateway itself first: a route's 404 proves routing only when it comes through a running gateway.
    # Liveness (the stack's probe path), not the overall health: that turns DOWN with a route's target.
    health = gateway["url"].rstrip("/") + "/actuator/health/liveness"
    try:
        answer = get(health)
        up = answer.status == 200 and answer.json().get("status") == "UP"
    except OSError as error:
        return [failed("gateway", gateway["name"], f"{gateway['url']} {unreachable(error)}")]
    except (ValueError, AttributeError):
        up = False
    if not up:
        return [failed("gateway", gateway["name"], f"/actuator/health/liveness answered {answer.status}, not a live Spring app (is this the gateway?)")]
    results = []
    for route in gateway["routes"]:
        results.append(_route(gateway, route, get))
    if not results:
        results.append(skipped("gateway", gateway["name"], "no routes configured (msa:services.<gateway>.routes)"))
    return results


def _route(gateway: dict, route: dict, get: Callable[..., Response]) -> Result:
    path, target = route["path"], route["service"]
    subject = f"{path} -> {target}"
    request = probe_path(path)
    try:
        answer = get(gateway["url"].rstrip("/") + request, accept="*/*")
    except OSError as error:
        return failed("gateway", subject, f"{gateway['name']} at {gateway['url']} {unreachable(error)}")
    if answer.status >= 500:
        return failed("gateway", subject, f"GET {request} answered {answer.status} through {gateway['name']}: {target} is down or not registered in Eureka (see its eureka line)")
    detail = f"GET {request} answered {answer.status} through {gateway['name']}"
    target_url = route.get("targetUrl")
    if target_url:
        direct_path = forwarded_path(request, route.get("stripPrefix", 0))
        try:
            direct = get(target_url.rstrip("/") + direct_path, accept="*/*")
        except OSError:
            return passed("gateway", subject, detail + f" ({target} itself not reachable from here)")
        if direct.status != answer.status:
            return failed("gateway", subject, f"GET {request} answered {answer.status} through {gateway['name']} but {target} answers {direct.status} "
                                              f"for {direct_path}: the gateway does not route it (does the gateway's own config replace the stack's routes?)")
        detail += f", as {target} answers {direct_path}"
    return passed("gateway", subject, detail)


# --- config server ------------------------------------------------------------------------------------

def config_checks(spec: dict, get: Optional[Callable[..., Response]] = None) -> list[Result]:
    get = get or http_get
    server = spec["config"]
    results = []
    for client in server["clients"]:
        name = client["name"]
        url = f"{server['url'].rstrip('/')}/{urllib.parse.quote(name)}/default"
        try:
            answer = get(url)
        except OSError as error:
            # One line for the server, not one per client: every other request would wait just as long.
            others = len(server["clients"]) - len(results) - 1
            unchecked = f"; the files of {others} more client(s) are not checked" if others else ""
            return [*results, failed("config", server["name"], f"{server['url']} {unreachable(error)} (asked for {name}){unchecked}")]
        if answer.status != 200:
            results.append(failed("config", name, f"/{name}/default answered {answer.status} from {server['name']}"))
            continue
        try:
            served = [str(ps.get("name", "")) for ps in answer.json().get("propertySources", [])]
        except (ValueError, AttributeError):
            results.append(failed("config", name, f"/{name}/default is not a config server environment"))
            continue
        missing = [f for f in client["sources"] if not any(_names_file(source, f) for source in served)]
        if missing:
            have = ", ".join(_file_of(s) for s in served) or "nothing"
            results.append(failed("config", name, f"/{name}/default lacks {', '.join(missing)} (serves: {have}); "
                                                  f"is it in {spec['config'].get('repo', 'the config repo')} and the config-repo ConfigMap?"))
        else:
            results.append(passed("config", name, f"/{name}/default serves {', '.join(client['sources']) or 'no files'}"))
    return results


def _names_file(source_name: str, file_name: str) -> bool:
    # Source names differ by version: "file:/config-repo/x.yml", "Config resource 'file [/config-repo/x.yml]' via ...".
    return re.search(r"(^|[/\[:\s])" + re.escape(file_name) + r"($|[\]'\s])", source_name) is not None


def _file_of(source_name: str) -> str:
    m = re.search(r"([^/\[\]:'\s]+\.(?:ya?ml|properties))", source_name)
    return m[1] if m else source_name
