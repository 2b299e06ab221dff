import Foundation

/// Dependency order in Kubernetes: init containers run before the pod's container,
/// so each one waits for a dependency: its Service port answering (endpoints only
/// hold ready pods, so this also means `ready`), or its Job having completed.
extension KubernetesExporter {
    struct Waits {
        var containers: [YAMLNode] = []
        var notes: [String] = []
        /// True when a `kubectl wait` needs the ServiceAccount that may read Jobs.
        var jobs = false
    }

    func initContainers(_ service: ServiceSpec) -> Waits {
        var waits = Waits()
        for dependency in service.dependsOn {
            guard let target = stack.service(named: dependency.service) else { continue }
            let name = Self.dnsName(target.name)
            if model.isTask(target) {
                // A task without a ready probe is ready when it completes.
                if dependency.condition == .completed || (dependency.condition == .ready && target.ready == nil) {
                    waits.containers.append(jobWait(name))
                    waits.jobs = true
                } else {
                    waits.notes.append(
                        "\(target.name) (\(dependency.condition.rawValue)): a Job; only completion can be awaited here")
                }
            } else if let port = model.containerPort(target) {
                waits.containers.append(portWait(name, port: port, condition: dependency.condition))
            } else {
                waits.notes.append(
                    "\(target.name) (\(dependency.condition.rawValue)) listens on no port, so nothing here waits for it"
                )
            }
            if dependency.condition == .ready, let topics = model.topicsJobName(target) {
                waits.containers.append(jobWait(topics))
                waits.jobs = true
            }
        }
        return waits
    }

    func portWait(_ name: String, port: Int, condition: DependencyCondition) -> YAMLNode {
        let script = "until nc -z -w 2 \(name) \(port); do echo waiting for \(name):\(port); sleep 1; done"
        return .map([
            YAMLPair("name", .string("wait-\(name)"), comments: ["depends_on \(name): \(condition.rawValue)"]),
            YAMLPair("image", .string(Self.waitImage)),
            YAMLPair("command", .flow(["sh", "-c", script].map { .string($0) })),
        ])
    }

    func jobWait(_ job: String) -> YAMLNode {
        .map([
            YAMLPair("name", .string("wait-\(job)"), comments: ["waits until Job \(job) has completed"]),
            YAMLPair("image", .string(Self.kubectlImage)),
            YAMLPair(
                "args", .flow(["wait", "--for=condition=complete", "--timeout=10m", "job/\(job)"].map { .string($0) })),
        ])
    }

    /// A Job that creates a broker's topics once the broker answers.
    func topicsJob(_ service: ServiceSpec) -> [YAMLPair]? {
        guard let name = model.topicsJobName(service), let script = model.topicScript(service) else { return nil }
        let broker = Self.dnsName(service.name)
        let pod: [YAMLPair] = [
            YAMLPair("restartPolicy", .string("OnFailure")),
            YAMLPair(
                "initContainers", .list([portWait(broker, port: EngineImage.defaultPort(.kafka), condition: .ready)])),
            YAMLPair(
                "containers",
                .list([
                    .map([
                        YAMLPair("name", .string("create-topics")),
                        YAMLPair("image", .string(ExportModel.kafkaImage)),
                        YAMLPair("command", .flow(["/bin/sh", "-c", script].map(Self.literal))),
                    ])
                ])),
        ]
        var job = object(
            "batch/v1", "Job", name: name,
            body: [
                YAMLPair(
                    "spec",
                    .map([
                        YAMLPair("backoffLimit", .number(6)),
                        YAMLPair(
                            "template",
                            .map([
                                YAMLPair("metadata", .map([YAMLPair("labels", labels(name))])),
                                YAMLPair("spec", .map(pod)),
                            ])),
                    ]))
            ])
        job[0].comments = [
            "Creates \(service.name)'s topics (muster creates them before \(service.name) counts as ready)."
        ]
        return job
    }

    /// Lets init containers read Jobs in the namespace, for `kubectl wait`.
    func waiterAccess() -> [[YAMLPair]] {
        let name = Self.waiterAccount
        var account = object("v1", "ServiceAccount", name: name, body: [])
        account[0].comments = ["Init containers use it to wait for Jobs (kubectl wait --for=condition=complete)."]
        let role = object(
            "rbac.authorization.k8s.io/v1", "Role", name: name,
            body: [
                YAMLPair(
                    "rules",
                    .list([
                        .map([
                            YAMLPair("apiGroups", .flow([.string("batch")])),
                            YAMLPair("resources", .flow([.string("jobs")])),
                            YAMLPair("verbs", .flow(["get", "list", "watch"].map { .string($0) })),
                        ])
                    ]))
            ])
        let binding = object(
            "rbac.authorization.k8s.io/v1", "RoleBinding", name: name,
            body: [
                YAMLPair(
                    "subjects",
                    .list([.map([YAMLPair("kind", .string("ServiceAccount")), YAMLPair("name", .string(name))])])),
                YAMLPair(
                    "roleRef",
                    .map([
                        YAMLPair("apiGroup", .string("rbac.authorization.k8s.io")),
                        YAMLPair("kind", .string("Role")), YAMLPair("name", .string(name)),
                    ])),
            ])
        return [account, role, binding]
    }
}
