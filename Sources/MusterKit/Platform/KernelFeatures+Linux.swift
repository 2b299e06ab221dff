import CMusterShims

/// What `muster doctor` checks of the kernel: the features the guarantees rest on.
enum KernelFeatures: KernelFeatureList {
    static var all: [KernelFeature] {
        [
            KernelFeature(
                name: "pidfd", available: muster_has_pidfd() == 1, required: false,
                why: "waits for exits without polling (Linux 5.3+); without it muster polls"),
            KernelFeature(
                name: "child subreaper", available: muster_has_child_subreaper() == 1, required: true,
                why: "orphaned grandchildren are reaped by muster (Linux 3.4+)"),
            KernelFeature(
                name: "PR_SET_PDEATHSIG", available: muster_has_pdeathsig() == 1, required: true,
                why: "services die with muster, even on SIGKILL"),
        ]
    }
}
