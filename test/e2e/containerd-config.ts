/** Where a private containerd keeps everything, and what its CRI plugin runs. */
export interface ContainerdLayout {
  /** Persistent state (content store, snapshots, metadata): never /var/lib/containerd. */
  root: string;
  /** Runtime state (task bundles, sandbox shm/resolv.conf, netns mounts): never /run/containerd. */
  state: string;
  /** The gRPC socket (CRI and containerd APIs); ttrpc listens on `<socket>.ttrpc`. */
  socket: string;
  /** runc's state root (default /run/containerd/runc). */
  runcRoot: string;
  /** The `opt` plugin's install dir (default /opt/containerd). */
  optDir: string;
  /** CNI conf dir: holds only our 00-multus.conf. */
  cniConfDir: string;
  /** CNI bin dir: multus-shim plus Debian's plugins (containerd runs `loopback` from here). */
  cniBinDir: string;
  /** The locally imported pause image. */
  sandboxImage: string;
  /** `overlayfs` where the kernel has it, else `native` (plain copies, no mounts needed). */
  snapshotter: 'overlayfs' | 'native';
}

function q(value: string): string {
  return JSON.stringify(value); // a TOML basic string is a JSON string for these paths
}

/**
 * The containerd 1.6 (Debian 12) config of the end-to-end test bed, with the reason for every
 * setting that differs from a stock node. Only the setting marked NEEDED HERE is required on this
 * machine kind (a VM with a container-like sandbox: no systemd, cgroup v1, no AppArmor); the rest
 * keep the bed off the host's containerd paths. test/e2e/README.md has the same list and the
 * error seen without it.
 */
export function containerdConfig(l: ContainerdLayout): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
# Private root and state: a test run never touches the system's /var/lib/containerd or
# /run/containerd (nor a containerd already running there).
root = ${q(l.root)}
state = ${q(l.state)}
# Plugins whose backends do not exist here; disabling them only silences start-up noise.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  # Private socket, so the suite can run next to a system containerd.
  address = ${q(l.socket)}

[ttrpc]
  address = ${q(`${l.socket}.ttrpc`)}

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  # Default /opt/containerd: keep it in the temp dir too.
  path = ${q(l.optDir)}

[${cri}]
  # Built locally from test/e2e/fixtures/pause.c and imported with ctr: there is no registry.
  sandbox_image = ${q(l.sandboxImage)}
  # NEEDED HERE. The CRI plugin gives the sandbox oom_score_adj -998 and runc's nsexec writes it
  # to /proc/self/oom_score_adj before exec. This VM's sandbox refuses any decrease of
  # oom_score_adj even for root with CAP_SYS_RESOURCE, so without this RunPodSandbox fails with
  #   "runc create failed: unable to start container process: can't get final child's PID from
  #    pipe: EOF" (runc's log: "nsexec: failed to update /proc/self/oom_score_adj: Permission
  #    denied").
  # true clamps every container's oom_score_adj to be >= containerd's own (0 here): runc then
  # writes 0, which is allowed. (Meant for containerd inside a user namespace; same cause.)
  restrict_oom_score_adj = true
  # Sandbox network namespaces are bind-mounted under <state>/io.containerd.grpc.v1.cri/netns/
  # instead of the host-wide /var/run/netns/cni-*: everything the bed creates stays under its temp
  # dir (the audit still checks /var/run/netns for strays).
  netns_mounts_under_state_dir = true
  # The streaming server (exec/attach/port-forward URLs) is unused: loopback, ephemeral port, so
  # two runs never fight over 10010.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Left at their defaults because RunPodSandbox works without them here (see the README before
  # changing them on another machine kind):
  #   disable_cgroup = false      cgroup v1 is writable here; the suite gives every sandbox a
  #                               run-unique cgroup_parent and removes it afterwards.
  #   systemd_cgroup = false      no systemd in the VM: cgroupfs driver.
  #   disable_apparmor = false    the kernel has no AppArmor, containerd already skips it.
  #   enable_selinux = false      (default) no SELinux.
  #   unset_seccomp_profile = ""  the sandbox container gets no seccomp profile unless asked.

  [${cri}.containerd]
    # overlayfs works here; "native" (plain directory copies, no overlay mounts) is the fallback
    # when /proc/filesystems lacks overlay. ctr import unpacks for the same snapshotter.
    snapshotter = ${q(l.snapshotter)}
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        # runc's state (default /run/containerd/runc) inside the temp dir as well.
        Root = ${q(l.runcRoot)}
        SystemdCgroup = false

  [${cri}.cni]
    # Our conf dir (only 00-multus.conf) and bin dir (multus-shim + Debian's plugins, loopback
    # included: containerd runs loopback itself, concurrently with our ADD).
    bin_dir = ${q(l.cniBinDir)}
    conf_dir = ${q(l.cniConfDir)}
    max_conf_num = 1
    conf_template = ""
`;
}
