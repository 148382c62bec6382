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
# No counter: a step looks at the cluster. With the phase the ConfigMap holds `stale`: the uids of the
# broker pods that existed when the phase was set (they may run an older one). A step restarts every pod
# still listed before it goes on; a restarted pod has a new uid. So a step that was interrupted (a broker
# that never became Ready, a killed `pulumi up`) finishes its roll when it runs again, no pod restarts
# twice for one phase, and a step with nothing to do changes nothing.
# Talks to the Kubernetes API with the pod's ServiceAccount token (Role: get/delete of the broker pods,
# get/patch of this ConfigMap). Inputs (env): STEP, NAMESPACE, CONFIGMAP, POD_PREFIX, BROKERS,
# READY_TIMEOUT_SECONDS, ZOOKEEPER_CONNECT (begin), KUBE_SA_DIR, KUBERNETES_SERVICE_HOST/PORT (kubelet).
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
    """(status, parsed body) of one request to the API server (404 is an answer, other errors fail)."""
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
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        if error.code not in (404,):
            raise Failed("the Kubernetes API refused %s %s (%d): %s" % (method, path, error.code, _message(text))) from None
        return error.code, None
    except (OSError, ValueError) as error:
        raise Failed("the Kubernetes API did not answer %s %s: %s" % (method, path, error)) from None


def _message(text):
    try:
        return json.loads(text).get("message", text)
    except ValueError:
        return text[:200]


def config_path():
    return "/api/v1/namespaces/%s/configmaps/%s" % (os.environ["NAMESPACE"], os.environ["CONFIGMAP"])


def read_phase():
    """(phase, uids of the pods that may still run an older phase) from the ConfigMap."""
    status, body = api("GET", config_path())
    if status == 404:
        raise Failed("the ConfigMap %s is missing (the stack creates it before this Job): run pulumi up again" % os.environ["CONFIGMAP"])
    data = body.get("data") or {}
    phase = data.get("phase", "scram-only")
    if phase not in ORDER:
        raise Failed("the ConfigMap %s names no phase this stack knows (%r)" % (os.environ["CONFIGMAP"], phase))
    return phase, set(filter(None, data.get("stale", "").split(",")))


def set_phase(phase):
    """One merge patch: the phase, and the pods that exist now as the ones to restart into it."""
    stale = sorted(body["metadata"]["uid"] for body in map(pod, pods()) if body is not None)
    api("PATCH", config_path(), {"data": {"phase": phase, "stale": ",".join(stale)}}, "application/merge-patch+json")
    log("phase %s (%d broker pod(s) to restart into it)" % (phase, len(stale)))
    return phase, set(stale)


def pods():
    prefix, count = os.environ.get("POD_PREFIX", "kafka"), int(os.environ["BROKERS"])
    return ["%s-%d" % (prefix, ordinal) for ordinal in range(count - 1, -1, -1)]   # highest ordinal first


def pod(name):
    status, body = api("GET", "/api/v1/namespaces/%s/pods/%s" % (os.environ["NAMESPACE"], name))
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


def converge(phase, stale):
    """Restart every broker pod listed in `stale`, one at a time, the others Ready first."""
    for name in pods():
        body = pod(name)
        if body is None or body["metadata"]["uid"] not in stale:
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
    phase, stale = read_phase()
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
    converge(phase, stale)               # an interrupted roll of the current phase first
    if phase == start:
        phase, stale = set_phase(end)
        converge(phase, stale)
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
