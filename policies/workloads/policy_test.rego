package burst.workloads_test

import data.burst.lib.testing as t
import data.burst.workloads

secure := {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true}

pod(spec) := t.res("kubernetes:core/v1:Pod", "p", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})

container(changes) := object.union({"name": "c", "image": "i", "securityContext": secure}, changes)

# A container whose securityContext is exactly sc (object.union would merge it into `secure`).
with_context(sc) := {"name": "c", "image": "i", "securityContext": sc}

rules(spec) := {[f.rule, f.severity] | some f in workloads.findings with input as t.manifests([pod(spec)])}

test_a_restricted_pod_passes if {
	rules({"containers": [container({})]}) == set()
}

test_privileged_and_host_settings if {
	r := rules({"hostNetwork": true, "hostIPC": t.unknown, "containers": [container({"securityContext": object.union(secure, {"privileged": true})})]})
	["workloads.privileged_container", "deny"] in r
	["workloads.host_namespaces", "deny"] in r
	["workloads.host_namespaces", "unknown"] in r
}

test_host_paths if {
	["workloads.host_path_volume", "deny"] in rules({"containers": [container({})], "volumes": [{"name": "v", "hostPath": {"path": "/var/run"}}]})
	["workloads.host_path_volume", "unknown"] in rules({"containers": [container({})], "volumes": [t.unknown]})
	["workloads.host_path_volume", "unknown"] in rules({"containers": [container({})], "volumes": t.unknown})
}

test_root if {
	["workloads.runs_as_root", "deny"] in rules({"containers": [container({"securityContext": object.union(secure, {"runAsUser": 0})})]})
	not_set := json.remove(secure, ["runAsNonRoot"])
	["workloads.runs_as_root", "deny"] in rules({"containers": [with_context(not_set)]})
	rules({"securityContext": {"runAsNonRoot": true}, "containers": [with_context(not_set)]}) == set()
	["workloads.runs_as_root", "unknown"] in rules({"securityContext": t.unknown, "containers": [with_context(not_set)]})
	["workloads.runs_as_root", "unknown"] in rules({"containers": [container({"securityContext": object.union(secure, {"runAsNonRoot": t.unknown})})]})
}

test_capabilities_and_escalation if {
	["workloads.capabilities_not_dropped", "deny"] in rules({"containers": [container({"securityContext": object.union(secure, {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}})})]})
	rules({"containers": [container({"securityContext": object.union(secure, {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})})]}) == set()
	["workloads.capabilities_not_dropped", "unknown"] in rules({"containers": [container({"securityContext": object.union(secure, {"capabilities": t.unknown})})]})
	["workloads.privilege_escalation", "unknown"] in rules({"containers": [container({"securityContext": object.union(secure, {"allowPrivilegeEscalation": t.unknown})})]})
	["workloads.privilege_escalation", "unknown"] in rules({"containers": [t.unknown]})
}

test_credentials if {
	["workloads.plaintext_credentials", "deny"] in rules({"containers": [container({"env": [{"name": "DB_PASSWORD", "value": "[secret]"}]})]})

	# Built from parts: a literal key ID in the repository is a leaked key to secret scanners.
	key_id := concat("", ["AKIA", "Z3MSJV4WWNKWW5FG"])
	["workloads.plaintext_credentials", "deny"] in rules({"containers": [container({"env": [{"name": "KEY", "value": key_id}]})]})
	["workloads.plaintext_credentials", "unknown"] in rules({"containers": [container({"env": [{"name": "BUCKET", "value": t.unknown}]})]})
	["workloads.plaintext_credentials", "unknown"] in rules({"containers": [container({"env": [t.unknown]})]})
	rules({"containers": [container({"env": [{"name": "BUCKET", "value": "acme"}, {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]})]}) == set()
}

test_init_containers_are_checked if {
	["workloads.privilege_escalation", "deny"] in rules({"containers": [container({})], "initContainers": [{"name": "init", "image": "i"}]})
}
