// How the node agent is installed as users expect: a systemd unit beside the plugins, or a
// DaemonSet on Kubernetes (docs/agent.md). No socket activation: a launcher that finds no agent
// execs the call at once, which is faster than waiting for an agent to start; the unit starts
// it at boot and again when it fails.
import { AGENT_DIR, DEFAULT_DEADLINE_S } from '../agent/defaults.ts';
import { join } from '../shared/util/path.ts';

export function systemdUnit(binDir: string): string {
  return `# cni-ts node agent: runs CNI plugin calls warm (docs/agent.md). Stop or disable it and
# every call is exec'd as before: nothing else needs to change.
[Unit]
Description=cni-ts node agent (warm CNI plugin calls)
Documentation=https://github.com/cni-ts/cni-ts/blob/main/docs/agent.md
After=local-fs.target
Before=containerd.service crio.service podman.service kubelet.service

[Service]
Type=simple
ExecStart=${join(binDir, 'cni-ts')} agent --dir=${AGENT_DIR}
# SIGTERM: calls in flight finish (each within its deadline), new ones are exec'd meanwhile
KillMode=mixed
TimeoutStopSec=${DEFAULT_DEADLINE_S + 15}
Restart=always
RestartSec=1
# its own limits: descriptors for the calls and the resolvers it runs, and no more memory than this
LimitNOFILE=65536
MemoryMax=512M
TasksMax=4096

[Install]
WantedBy=multi-user.target
`;
}

/** A DaemonSet: the plugins installed from the image into the host's CNI directory, then the agent. */
export function daemonSet(image: string): string {
  return `# cni-ts on every node: installs the plugins into /opt/cni/bin and runs the node agent in the
# host's network namespace (docs/agent.md). Delete it and the plugins stay, exec'd as before.
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: cni-ts-agent
  namespace: kube-system
  labels: { app: cni-ts-agent }
spec:
  selector:
    matchLabels: { app: cni-ts-agent }
  updateStrategy: { type: RollingUpdate }
  template:
    metadata:
      labels: { app: cni-ts-agent }
    spec:
      hostNetwork: true
      hostPID: true
      priorityClassName: system-node-critical
      tolerations: [{ operator: Exists }]
      terminationGracePeriodSeconds: ${DEFAULT_DEADLINE_S + 15}
      initContainers:
        - name: install
          image: ${image}
          command: ["/cni-ts/cni-ts", "install", "/host/opt/cni/bin"]
          securityContext: { privileged: true }
          volumeMounts: [{ name: cni-bin, mountPath: /host/opt/cni/bin }]
      containers:
        - name: agent
          image: ${image}
          command: ["/host/opt/cni/bin/cni-ts", "agent", "--dir=${AGENT_DIR}"]
          securityContext: { privileged: true }
          resources:
            requests: { cpu: 50m, memory: 64Mi }
            limits: { memory: 512Mi }
          volumeMounts:
            - { name: cni-bin, mountPath: /host/opt/cni/bin, readOnly: true }
            - { name: run-cni-ts, mountPath: /run/cni-ts }
            - { name: run-netns, mountPath: /run/netns, mountPropagation: HostToContainer }
            - { name: var-lib-cni, mountPath: /var/lib/cni }
            - { name: var-lib-cni-ts, mountPath: /var/lib/cni-ts }
            - { name: run-cni, mountPath: /run/cni }
      volumes:
        - { name: cni-bin, hostPath: { path: /opt/cni/bin, type: DirectoryOrCreate } }
        - { name: run-cni-ts, hostPath: { path: /run/cni-ts, type: DirectoryOrCreate } }
        - { name: run-netns, hostPath: { path: /run/netns, type: DirectoryOrCreate } }
        - { name: var-lib-cni, hostPath: { path: /var/lib/cni, type: DirectoryOrCreate } }
        - { name: var-lib-cni-ts, hostPath: { path: /var/lib/cni-ts, type: DirectoryOrCreate } }
        - { name: run-cni, hostPath: { path: /run/cni, type: DirectoryOrCreate } }
`;
}
