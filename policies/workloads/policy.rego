# METADATA
# title: Workload security
# description: >-
#   Pods of every workload kind (Pod, Job, CronJob, Deployment, StatefulSet, JobSet) meet the
#   restricted Pod Security Standard, which the team namespaces also enforce at admission:
#   no privileged containers, host namespaces or host paths, non-root, no privilege escalation,
#   all capabilities dropped; and no plaintext credentials in container environments.
package burst.workloads

import data.burst.lib

# Input paths each rule judges its subjects on (see burst.main).
reads := {id: lib.pod_template_reads | some id in {
	"workloads.privileged_container",
	"workloads.host_namespaces",
	"workloads.host_path_volume",
	"workloads.runs_as_root",
	"workloads.capabilities_not_dropped",
	"workloads.privilege_escalation",
	"workloads.plaintext_credentials",
}}

# [workload, pod spec, container] for every container (init and ephemeral ones included).
containers := [[w, tpl.spec, c] |
	some w in lib.workloads
	some tpl in lib.pod_templates(w)
	some key in ["containers", "initContainers", "ephemeralContainers"]
	some c in lib.as_list(object.get(lib.as_object(tpl.spec), key, []))
]

_pod_specs := [[w, tpl.spec] |
	some w in lib.workloads
	some tpl in lib.pod_templates(w)
]

_label(c) := sprintf("container %v", [object.get(c, "name", "?")]) if is_object(c)

_label(c) := "a container" if not is_object(c)

# "yes"/"no"/"unknown" of a boolean setting that must not be true.
_set_true(value) := "yes" if {
	value == true
} else := "unknown" if {
	lib.is_unknown(value)
} else := "no"

# "unknown" when a container (or its securityContext) is wholly unknown.
_container_unknown(c) if lib.is_unknown(c)

_container_unknown(c) if lib.is_unknown(object.get(c, "securityContext", {}))

# METADATA
# title: Privileged container
# description: >-
#   A container sets securityContext.privileged: it gets every device and capability of the node
#   (the GPU node's driver and the node role's credentials among them).
# custom:
#   id: workloads.privileged_container
#   severity: deny
#   remediation: Remove privileged; request the nvidia.com/gpu resource for GPU access instead.
#   admission:
#     cel: >-
#       variables.containers.all(c, !(has(c.securityContext) &&
#       has(c.securityContext.privileged) && c.securityContext.privileged))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, _, c] in containers
	state := _privileged_state(c)
	state != "no"
	msg := sprintf("%s %s: %s is privileged", [w.type, w.name, _label(c)])
}

_privileged_state(c) := "unknown" if {
	_container_unknown(c)
} else := _set_true(object.get(c, ["securityContext", "privileged"], false))

# METADATA
# title: Pod shares the node's namespaces
# description: >-
#   A pod sets hostPID, hostIPC or hostNetwork, so it sees the node's processes, shared memory or
#   network (including the instance metadata service).
# custom:
#   id: workloads.host_namespaces
#   severity: deny
#   remediation: Remove hostPID, hostIPC and hostNetwork from the pod spec.
#   admission:
#     cel: >-
#       !(has(variables.podSpec.hostPID) && variables.podSpec.hostPID) &&
#       !(has(variables.podSpec.hostIPC) && variables.podSpec.hostIPC) &&
#       !(has(variables.podSpec.hostNetwork) && variables.podSpec.hostNetwork)
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, spec] in _pod_specs
	some key in ["hostPID", "hostIPC", "hostNetwork"]
	state := _spec_setting(spec, key)
	state != "no"
	msg := sprintf("%s %s sets %s", [w.type, w.name, key])
}

_spec_setting(spec, key) := "unknown" if {
	lib.is_unknown(spec)
} else := _set_true(object.get(spec, key, false))

# METADATA
# title: Pod mounts a host path
# description: >-
#   A pod mounts a hostPath volume, which reaches the node's file system (kubelet credentials,
#   container runtime socket, other pods' data).
# custom:
#   id: workloads.host_path_volume
#   severity: deny
#   remediation: >-
#     Use an emptyDir, a persistent volume or a CSI volume (checkpoints belong in the team's
#     checkpoint bucket).
#   admission:
#     cel: >-
#       !has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, spec] in _pod_specs
	some [state, detail] in _host_paths(spec)
	msg := sprintf("%s %s mounts %s", [w.type, w.name, detail])
}

_host_paths(spec) := {["unknown", "volumes that are unknown"]} if {
	lib.is_unknown(object.get(lib.as_object(spec), "volumes", []))
} else := {v |
	some vol in lib.as_list(object.get(lib.as_object(spec), "volumes", []))
	v := _host_path(vol)
}

_host_path(vol) := ["unknown", "a volume that is unknown"] if {
	lib.is_unknown(vol)
} else := ["yes", sprintf("hostPath %v", [object.get(vol, ["hostPath", "path"], "?")])] if {
	object.get(vol, "hostPath", null) != null
}

# The value of a securityContext setting of a container, falling back to the pod's.
_effective(spec, c, key) := object.get(c, ["securityContext", key], object.get(lib.as_object(spec), ["securityContext", key], null))

# METADATA
# title: Container may run as root
# description: >-
#   A container does not set runAsNonRoot true (itself or through the pod's securityContext), or
#   sets runAsUser 0, so it may run as root on the node.
# custom:
#   id: workloads.runs_as_root
#   severity: deny
#   remediation: >-
#     Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) on the pod, and build the
#     image with a non-root USER.
#   admission:
#     cel: >-
#       variables.containers.all(c,
#       !((has(c.securityContext) && has(c.securityContext.runAsUser)) ?
#       c.securityContext.runAsUser == 0 :
#       (has(variables.podSpec.securityContext) &&
#       has(variables.podSpec.securityContext.runAsUser) &&
#       variables.podSpec.securityContext.runAsUser == 0)) &&
#       ((has(c.securityContext) && has(c.securityContext.runAsNonRoot)) ?
#       c.securityContext.runAsNonRoot == true :
#       (has(variables.podSpec.securityContext) &&
#       has(variables.podSpec.securityContext.runAsNonRoot) &&
#       variables.podSpec.securityContext.runAsNonRoot == true)))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, spec, c] in containers
	state := _root_state(spec, c)
	state != "no"
	msg := sprintf("%s %s: %s may run as root", [w.type, w.name, _label(c)])
}

_root_state(spec, c) := "unknown" if {
	_container_unknown(c)
} else := "yes" if {
	_effective(spec, c, "runAsUser") == 0
} else := "no" if {
	_effective(spec, c, "runAsNonRoot") == true
} else := "unknown" if {
	lib.is_unknown(_effective(spec, c, "runAsNonRoot"))
} else := "unknown" if {
	lib.is_unknown(object.get(lib.as_object(spec), "securityContext", {}))
} else := "yes"

# METADATA
# title: Container keeps Linux capabilities
# description: >-
#   A container does not drop ALL capabilities, or adds one other than NET_BIND_SERVICE, as the
#   restricted Pod Security Standard requires.
# custom:
#   id: workloads.capabilities_not_dropped
#   severity: deny
#   remediation: >-
#     Set securityContext.capabilities: {drop: [ALL]} on every container, adding at most
#     NET_BIND_SERVICE.
#   admission:
#     cel: >-
#       variables.containers.all(c, has(c.securityContext) &&
#       has(c.securityContext.capabilities) &&
#       (!has(c.securityContext.capabilities.add) ||
#       c.securityContext.capabilities.add.all(a, a == 'NET_BIND_SERVICE')) &&
#       has(c.securityContext.capabilities.drop) &&
#       'ALL' in c.securityContext.capabilities.drop)
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, _, c] in containers
	state := _capabilities_state(c)
	state != "no"
	msg := sprintf("%s %s: %s does not drop ALL capabilities or adds more than NET_BIND_SERVICE", [w.type, w.name, _label(c)])
}

_capabilities_state(c) := "unknown" if {
	_container_unknown(c)
} else := "unknown" if {
	lib.contains_unknown(object.get(c, ["securityContext", "capabilities"], {}))
} else := "yes" if {
	some cap in lib.as_list(object.get(c, ["securityContext", "capabilities", "add"], []))
	cap != "NET_BIND_SERVICE"
} else := "no" if {
	"ALL" in lib.as_list(object.get(c, ["securityContext", "capabilities", "drop"], []))
} else := "yes"

# METADATA
# title: Container allows privilege escalation
# description: >-
#   A container does not set allowPrivilegeEscalation false, so a setuid binary can gain more
#   privileges than the process started with.
# custom:
#   id: workloads.privilege_escalation
#   severity: deny
#   remediation: Set securityContext.allowPrivilegeEscalation false on every container.
#   admission:
#     cel: >-
#       variables.containers.all(c, has(c.securityContext) &&
#       has(c.securityContext.allowPrivilegeEscalation) &&
#       c.securityContext.allowPrivilegeEscalation == false)
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, _, c] in containers
	state := _escalation_state(c)
	state != "no"
	msg := sprintf("%s %s: %s allows privilege escalation", [w.type, w.name, _label(c)])
}

_escalation_state(c) := "unknown" if {
	_container_unknown(c)
} else := "no" if {
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], null) == false
} else := "unknown" if {
	lib.is_unknown(object.get(c, ["securityContext", "allowPrivilegeEscalation"], null))
} else := "yes"

# Environment variable names that hold credentials, and values that are AWS access key IDs.
_credential_name(name) if regex.match(`(?i)(secret|password|passwd|token|api_?key|access_?key|private_?key|credential)`, name)

_access_key_id(value) if regex.match(`^(AKIA|ASIA)[A-Z0-9]{16}$`, value)

# METADATA
# title: Plaintext credential in a container environment
# description: >-
#   A container's env sets a credential (a variable named like a secret, password, token or key,
#   or a value that is an AWS access key ID) as a literal value: it is stored in the manifest, the
#   Pulumi state and the API server, readable by anyone who can read the object.
# custom:
#   id: workloads.plaintext_credentials
#   severity: deny
#   remediation: >-
#     Use valueFrom.secretKeyRef (a Kubernetes Secret from a secret store) or, for AWS, no key at
#     all: the team's workload identity (EKS Pod Identity) gives the pod short-lived credentials.
#   admission:
#     cel: >-
#       variables.containers.all(c, !has(c.env) || c.env.all(e,
#       !has(e.value) || e.value == '' ||
#       !(e.name.matches('(?i)(secret|password|passwd|token|api_?key|access_?key|private_?key|credential)') ||
#       e.value.matches('^(AKIA|ASIA)[A-Z0-9]{16}$'))))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, _, c] in containers
	some [state, name] in _credentials(c)
	msg := sprintf("%s %s: %s sets %s as a plaintext value", [w.type, w.name, _label(c), name])
}

_credentials(c) := {["unknown", "an environment that is unknown"]} if {
	_env_unknown(c)
} else := {[state, name] |
	some e in lib.as_list(object.get(c, "env", []))
	name := object.get(e, "name", "")
	value := object.get(e, "value", null)
	is_string(value)
	value != ""
	state := _credential_state(name, value)
	state != "no"
}

# A credential-named variable with a literal value (known or not: a Pulumi secret is still stored
# in the object), or a value that is an access key ID; an unknown value may be one.
_credential_state(name, value) := "unknown" if {
	lib.is_unknown(name)
} else := "yes" if {
	_credential_name(name)
} else := "unknown" if {
	lib.is_unknown(value)
} else := "yes" if {
	_access_key_id(value)
} else := "no"

_env_unknown(c) if lib.is_unknown(c)

_env_unknown(c) if lib.is_unknown(object.get(c, "env", []))

_env_unknown(c) if {
	some e in lib.as_list(object.get(c, "env", []))
	lib.is_unknown(e)
}
