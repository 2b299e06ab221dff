/// Services and their `depends_on` edges: start order, stop order, cycles and the
/// set of services a partial `up SERVICE...` needs.
public struct DependencyGraph: Sendable {
    /// Service names in file order.
    public let names: [String]
    /// name → the names it depends on.
    public let dependencies: [String: [String]]

    public init(names: [String], dependencies: [String: [String]]) {
        self.names = names
        self.dependencies = dependencies
    }

    public init(stack: StackSpec) {
        self.init(
            names: stack.serviceNames,
            dependencies: Dictionary(
                uniqueKeysWithValues: stack.services.map { ($0.name, $0.dependsOn.map(\.service)) }))
    }

    /// Names that depend directly on `name`, in file order.
    public func dependents(of name: String) -> [String] {
        names.filter { dependencies[$0, default: []].contains(name) }
    }

    /// The first cycle found, as a path that starts and ends on the same service.
    public func cycle() -> [String]? {
        var state: [String: Int] = [:]  // 1: on the current path, 2: done
        var path: [String] = []
        func visit(_ node: String) -> [String]? {
            state[node] = 1
            path.append(node)
            for next in dependencies[node, default: []] {
                if state[next] == 1, let start = path.firstIndex(of: next) {
                    return Array(path[start...]) + [next]
                }
                if state[next] == nil, let found = visit(next) { return found }
            }
            path.removeLast()
            state[node] = 2
            return nil
        }
        for name in names where state[name] == nil {
            if let found = visit(name) { return found }
        }
        return nil
    }

    /// `roots` and everything they depend on, transitively.
    public func closure(of roots: [String]) -> Set<String> {
        var result = Set<String>()
        var stack = roots
        while let next = stack.popLast() {
            guard result.insert(next).inserted else { continue }
            stack += dependencies[next, default: []]
        }
        return result
    }

    /// Dependencies before dependents; ties keep file order. Requires no cycle.
    public func startOrder(of subset: Set<String>? = nil) -> [String] {
        var order: [String] = []
        var placed = Set<String>()
        let wanted = names.filter { subset?.contains($0) ?? true }
        while order.count < wanted.count {
            let before = order.count
            for name in wanted where !placed.contains(name) {
                let deps = dependencies[name, default: []].filter { subset?.contains($0) ?? true }
                if deps.allSatisfy(placed.contains) {
                    order.append(name)
                    placed.insert(name)
                }
            }
            if order.count == before { break }  // a cycle: validation reports it
        }
        return order
    }

    /// Groups that can start together once the previous groups are up (for display
    /// and export; the supervisor starts each service as soon as its own needs are met).
    public func waves(of subset: Set<String>? = nil) -> [[String]] {
        var level: [String: Int] = [:]
        for name in startOrder(of: subset) {
            let deps = dependencies[name, default: []].filter { subset?.contains($0) ?? true }
            level[name] = (deps.compactMap { level[$0] }.max() ?? -1) + 1
        }
        let depth = (level.values.max() ?? -1) + 1
        return (0..<depth).map { wave in startOrder(of: subset).filter { level[$0] == wave } }
    }
}
