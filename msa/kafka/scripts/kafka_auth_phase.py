# The Jobs kafka-auth-begin, kafka-auth-roll and kafka-auth-finish (msa/kafka/auth_roll.py): they move a
# running cluster through the phases of authentication (broker_auth.py) inside one `pulumi up`, by
# writing the ConfigMap kafka-auth-phase (which every broker reads when its pod starts) and restarting the
# brokers, one pod at a time, each Ready (registered, in the ISR: the readiness probe) before the next.
#
#   begin  (before the StatefulSet): brokers registered in ZooKeeper without a SCRAM endpoint (an open
#          cluster runs) and the phase is scram-only -> scram-added; the StatefulSet's own update that
#          follows is the first roll.
#   roll   (after the StatefulSet): scram-added -> inter-broker-scram, and a roll.
#   finish (after the clients switched to SCRAM): inter-broker-scram -> scram-only, and a roll.
#
# No counter: a step looks at the cluster. The ConfigMap also holds `since`, the API server's time (in
# whole seconds, rounded up) when the phase was set; a pod created at or before it may run an older phase
# and is restarted first. So a step that was interrupted (a broker that never became Ready, a killed
# `pulumi up`) finishes its roll when it runs again, and a step with nothing to do changes nothing.
# Talks to the Kubernetes API with the pod's ServiceAccount token (Role: get/delete of the broker pods,
# get/patch of this ConfigMap). Inputs (env): STEP, NAMESPACE, CONFIGMAP, POD_PREFIX, BROKERS,
# READY_TIMEOUT_SECONDS, ZOOKEEPER_CONNECT (begin), KUBE_SA_DIR, KUBERNETES_SERVICE_HOST/PORT (kubelet).
import datetime
import email.utils
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

ORDER = ("scram-added", "inter-broker-scram", "scram-only")
STEPS = {"roll": ("scram-added", "inter-broker-scram"), "finish": ("inter-broker-scram", "scram-only")}
JOB = "kafka-auth-" + os.environ.get("STEP", "?")


class Failed(Exception):
    pass


def log(text):
    print("%s: %s" % (JOB, text), flush=True)


def api(method, path, body=None, content_type="application/json"):
    """(status, parsed body, Date header as a datetime) of one request to the API server."""
    folder = os.environ.get("KUBE_SA_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
    with open(os.path.join(folder, "token")) as f:
        token = f.read().strip()
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    url = "https://%s:%s%s" % ("[%s]" % host if ":" in host else host, os.environ.get("KUBERNETES_SERVICE_PORT", "443"), path)
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + token, "Accept": "application/json", "Content-Type": content_type})
    context = ssl.create_default_context(cafile=os.path.join(folder, "ca.crt"))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), _date(response.headers)
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        if error.code not in (404,):
            raise Failed("the Kubernetes API refused %s %s (%d): %s" % (method, path, error.code, _message(text)))
        return error.code, None, _date(error.headers)
    except (OSError, ValueError) as error:
        raise Failed("the Kubernetes API did not answer %s %s: %s" % (method, path, error))


def _message(text):
    try:
        return json.loads(text).get("message", text)
    except ValueError:
        return text[:200]


def _date(headers):
    value = headers.get("Date")
    return email.utils.parsedate_to_datetime(value) if value else datetime.datetime.now(datetime.timezone.utc)


def _stamp(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def config_path():
    return "/api/v1/namespaces/%s/configmaps/%s" % (os.environ["NAMESPACE"], os.environ["CONFIGMAP"])


def read_phase():
    """(phase, since or None) from the ConfigMap."""
    status, body, _ = api("GET", config_path())
    if status == 404:
        raise Failed("the ConfigMap %s is missing (the stack creates it before this Job): run pulumi up again" % os.environ["CONFIGMAP"])
    data = body.get("data") or {}
    phase = data.get("phase", "scram-only")
    if phase not in ORDER:
        raise Failed("the ConfigMap %s names no phase this stack knows (%r)" % (os.environ["CONFIGMAP"], phase))
    return phase, (_parse(data["since"]) if data.get("since") else None)


def set_phase(phase):
    """One merge patch: the phase and `since`, two seconds after the API server's clock before it (every
    pod created before the patch is at or before `since`; one created just after is restarted once more)."""
    _, _, now = api("GET", config_path())
    since = now + datetime.timedelta(seconds=2)
    api("PATCH", config_path(), {"data": {"phase": phase, "since": _stamp(since)}}, "application/merge-patch+json")
    log("phase %s (pods started before %s restart into it)" % (phase, _stamp(since)))
    return phase, since.replace(microsecond=0)


def pods():
    prefix, count = os.environ.get("POD_PREFIX", "kafka"), int(os.environ["BROKERS"])
    return ["%s-%d" % (prefix, ordinal) for ordinal in range(count - 1, -1, -1)]   # highest ordinal first


def pod(name):
    status, body, _ = api("GET", "/api/v1/namespaces/%s/pods/%s" % (os.environ["NAMESPACE"], name))
    return None if status == 404 else body


def ready(body):
    conditions = (body or {}).get("status", {}).get("conditions") or []
    return body is not None and not body["metadata"].get("deletionTimestamp") and \
        any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def wait_ready(name, old_uid=None):
    deadline = time.monotonic() + int(os.environ.get("READY_TIMEOUT_SECONDS", "900"))
    while time.monotonic() < deadline:
        body = pod(name)
        if ready(body) and body["metadata"]["uid"] != old_uid:
            return
        time.sleep(2)
    raise Failed("pod %s did not become Ready within %ss (kubectl describe pod %s); run pulumi up again to resume"
                 % (name, os.environ.get("READY_TIMEOUT_SECONDS", "900"), name))


def converge(phase, since):
    """Restart every broker pod created at or before `since`, one at a time, the others Ready first."""
    if since is None:
        return
    for name in pods():
        body = pod(name)
        if body is None or _parse(body["metadata"]["creationTimestamp"]) > since:
            continue
        for other in pods():
            if pod(other) is not None:
                wait_ready(other)
        log("restarting %s into phase %s" % (name, phase))
        api("DELETE", "/api/v1/namespaces/%s/pods/%s" % (os.environ["NAMESPACE"], name))
        wait_ready(name, body["metadata"]["uid"])
        log("%s is Ready in phase %s" % (name, phase))


def open_brokers():
    """Ids of the brokers registered in ZooKeeper without a SCRAM endpoint (an open cluster's)."""
    def shell(*args):
        out = subprocess.run(["zookeeper-shell", os.environ["ZOOKEEPER_CONNECT"], *args], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=180)
        return out.stdout + out.stderr
    listing = [line for line in shell("ls", "/brokers/ids").splitlines() if re.match(r"^\[[0-9, ]*\]$", line.strip())]
    ids = re.findall(r"[0-9]+", listing[-1]) if listing else []
    return [i for i in ids if '"endpoints"' in (text := shell("get", "/brokers/ids/" + i)) and '"SCRAM://' not in text]


def main():
    step = os.environ["STEP"]
    phase, since = read_phase()
    if step == "begin":
        still_open = open_brokers() if phase == "scram-only" else []
        if still_open:
            log("broker(s) %s run open: the move to authentication starts" % ", ".join(still_open))
            set_phase("scram-added")
        else:
            log("phase %s: nothing to begin" % phase)
        return 0
    start, end = STEPS[step]
    if ORDER.index(phase) < ORDER.index(start):
        raise Failed("phase %s: kafka-auth-%s runs after the %s step" % (phase, step, "roll" if step == "finish" else "begin"))
    converge(phase, since)               # an interrupted roll of the current phase first
    if phase == start:
        phase, since = set_phase(end)
        converge(phase, since)
    log("phase %s: every broker runs it" % phase)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as problem:
        log(str(problem))
        try:
            with open("/dev/termination-log", "w") as f:
                f.write("%s: %s\n" % (JOB, problem))
        except OSError:
            pass
        sys.exit(1)
