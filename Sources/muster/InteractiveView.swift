import CNcurses
import Foundation
import MusterKit

/// The interactive view of a running stack: a live table of the services above the
/// log stream of one or all of them, with keys to restart, stop and start a service.
/// Foreground `muster up` shows it on a terminal; `muster attach` shows it for a
/// detached stack. Both read the stack through the control API (see `ViewModel`).
///
/// Drawn with ncurses (the wide-character build, through the `CNcurses` system
/// library target) rather than hand-written ANSI: terminfo knows each terminal's
/// sequences, wide and combining characters are measured for us, KEY_RESIZE
/// reports a resize (SIGWINCH) with the screen already resized, and
/// libncursesw is on every Debian system. Every curses call happens on one thread
/// (`muster-view`): a loop that reads a key with a 250 ms timeout and redraws, so
/// the supervisor never waits on the terminal. `endwin` runs when the loop ends,
/// and at exit when an error ends the program first.
/// Unchecked: curses is driven from its one thread; shared fields are guarded by its lock.
final class InteractiveView: @unchecked Sendable {
    enum Ending: Sendable { case quit, supervisorGone, asked }

    let model: ViewModel
    private let lock = NSLock()
    private var ending: Ending?
    private var stopAsked = false
    private var waiters: [CheckedContinuation<Ending, Never>] = []
    private let colours: Bool

    init(model: ViewModel) {
        self.model = model
        colours = ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    /// Takes over the terminal and starts following the stack.
    func begin(eventsSince: Int) {
        model.startFeeding(eventsSince: eventsSince)
        let thread = Thread { [self] in run() }
        thread.name = "muster-view"
        thread.start()
    }

    /// Returns once the view has ended (q, or the supervisor went away, or `end()`)
    /// and the terminal is restored.
    func waitForExit() async -> Ending {
        await withCheckedContinuation { enqueue($0) }
    }

    private func enqueue(_ continuation: CheckedContinuation<Ending, Never>) {
        lock.lock()
        if let ending {
            lock.unlock()
            continuation.resume(returning: ending)
            return
        }
        waiters.append(continuation)
        lock.unlock()
    }

    private func askToStop() {
        lock.lock()
        stopAsked = true
        lock.unlock()
    }

    /// Ends the view and waits until the terminal is restored.
    func end() async {
        askToStop()
        _ = await waitForExit()
        model.stop()
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopAsked
    }

    private func finish(_ reason: Ending) {
        lock.lock()
        ending = reason
        let due = waiters
        waiters = []
        lock.unlock()
        due.forEach { $0.resume(returning: reason) }
    }

    // MARK: the curses thread

    private func run() {
        Screen.open(colours: colours)
        var reason = Ending.asked
        while !shouldStop {
            draw()
            let key = wgetch(muster_stdscr())
            if key == muster_err() {
                if model.mode == .attached && model.withLock({ model.supervisorGone }) {
                    reason = .supervisorGone
                    break
                }
                continue
            }
            if handle(key) {
                reason = .quit
                break
            }
        }
        Screen.close()
        model.stop()
        finish(reason)
    }

    /// Acts on one key; true for the key that ends the view.
    private func handle(_ key: Int32) -> Bool {
        switch key {
        case muster_key_resize():
            clearok(muster_stdscr(), true)
        case muster_key_up(), Int32(UInt8(ascii: "k")):
            model.move(by: -1)
        case muster_key_down(), Int32(UInt8(ascii: "j")):
            model.move(by: 1)
        case 10, 13, muster_key_enter(), Int32(UInt8(ascii: "f")):
            model.toggleFilter()
        case Int32(UInt8(ascii: "r")):
            model.act(.restart)
        case Int32(UInt8(ascii: "s")):
            model.act(.stop)
        case Int32(UInt8(ascii: "S")):
            model.act(.start)
        case Int32(UInt8(ascii: "q")):
            return true
        case 12:  // Ctrl-L
            clearok(muster_stdscr(), true)
        case Int32(UInt8(ascii: "?")), Int32(UInt8(ascii: "h")):
            model.say(keysHelp)
        default:
            let name = key >= 32 && key < 127 ? "'\(Character(UnicodeScalar(UInt8(key))))'" : "code \(key)"
            model.say("key \(name) does nothing here; ? lists the keys", problem: true)
        }
        return false
    }

    private var keysHelp: String {
        let quit = model.mode == .foreground ? "q quit (stops the stack)" : "q detach (stack keeps running)"
        return "↑↓/jk select · enter one/all logs · r restart · s stop · S start · \(quit)"
    }

    private func draw() {
        let snapshot = model.withLock {
            (
                model.services, model.selected, model.filtered, model.message, model.messageIsProblem, model.busy,
                model.supervisorGone
            )
        }
        let (services, selected, filtered, message, problem, busy, gone) = snapshot
        let rows = Int(muster_lines()), cols = Int(muster_cols())
        erase()
        guard rows >= 6, cols >= 20 else {
            Screen.put(0, "terminal too small", width: cols)
            refresh()
            return
        }
        let ready = services.filter(\.ready).count
        let active = services.filter { $0.state != "inactive" }.count
        let place = model.mode == .foreground ? "foreground" : "attached"
        Screen.put(
            0, " muster · \(model.project) · \(ready)/\(active) ready · \(place)", width: cols, fill: true,
            attributes: muster_attr_reverse() | muster_attr_bold())

        let table = ServiceTable(services: services)
        Screen.put(1, table.header, width: cols, attributes: muster_attr_bold())
        let room = max(1, min(services.count, rows - 7))
        let first = min(max(0, selected - room + 1), max(0, services.count - room))
        for (row, index) in (first..<min(services.count, first + room)).enumerated() {
            let service = services[index]
            let y = 2 + row
            let mark = index == selected ? muster_attr_reverse() : 0
            Screen.put(
                y, table.row(service, selected: index == selected), width: cols, fill: index == selected,
                attributes: mark)
            if index != selected, colours, let pair = Screen.statePair(service.state) {
                Screen.put(y, service.state, x: table.stateColumn, width: cols, attributes: muster_color_pair(pair))
            }
        }
        if services.isEmpty {
            Screen.put(2, "  waiting for the supervisor…", width: cols, attributes: muster_attr_dim())
        }

        let separator = 2 + max(room, 1)
        let which =
            filtered && services.indices.contains(selected)
            ? "logs of \(services[selected].name) (enter: all)" : "logs of every service (enter: the selected one)"
        Screen.put(
            separator, "── \(which) " + String(repeating: "─", count: cols), width: cols, attributes: muster_attr_dim())

        let logTop = separator + 1, logBottom = rows - 2
        let lines = model.visibleLines().suffix(max(0, logBottom - logTop))
        let width = services.map(\.name.count).max() ?? 0
        for (offset, line) in lines.enumerated() {
            let y = logTop + offset
            if line.isEvent {
                Screen.put(y, line.text, width: cols, attributes: muster_attr_bold())
            } else if filtered {
                Screen.put(y, line.text, width: cols)
            } else {
                let index = services.firstIndex { $0.name == line.service } ?? 0
                let label = line.service.padding(toLength: width, withPad: " ", startingAt: 0) + " │ "
                Screen.put(
                    y, label, width: cols,
                    attributes: colours ? muster_color_pair(Int16(10 + index % 6)) : muster_attr_dim())
                Screen.put(y, line.text, x: label.count, width: cols)
            }
        }

        var status = message
        if let busy { status = "⟳ \(busy)…" + (message.isEmpty || message.hasPrefix(busy) ? "" : "  " + message) }
        if gone { status = "the supervisor stopped answering" + (model.mode == .attached ? "; the stack is gone" : "") }
        let statusAttributes = problem || gone ? (colours ? muster_color_pair(3) : muster_attr_bold()) : 0
        Screen.put(rows - 2, status, width: cols, attributes: statusAttributes)
        Screen.put(rows - 1, keysHelp, width: cols, attributes: muster_attr_dim())
        refresh()
    }
}

/// The service table's columns: state, pid, ports, restarts, ready time, uptime.
/// A service a file change acts on (`watch:`) has `⟳` after its name.
struct ServiceTable {
    let nameWidth: Int
    static let watchMark = " ⟳"

    init(services: [ServiceStatus]) {
        nameWidth = max(7, services.map { $0.name.count + ($0.watched == true ? Self.watchMark.count : 0) }.max() ?? 0)
    }

    var stateColumn: Int { 2 + nameWidth + 2 }

    var header: String {
        "  " + cells(["SERVICE", "STATE", "PID", "PORTS", "RESTARTS", "READY IN", "UPTIME"])
    }

    func row(_ service: ServiceStatus, selected: Bool) -> String {
        let restarts =
            service.restartsDetected > 0 ? "\(service.restarts) (+\(service.restartsDetected))" : "\(service.restarts)"
        let values = [
            service.name + (service.watched == true ? Self.watchMark : ""), service.state,
            service.pid.map(String.init) ?? "-",
            service.ports.isEmpty ? "-" : service.ports.map(String.init).joined(separator: ","),
            restarts, service.readyInS.map { String(format: "%.2fs", $0) } ?? "-",
            service.uptimeS.map(Self.duration) ?? "-",
        ]
        return (selected ? "▶ " : "  ") + cells(values)
    }

    private func cells(_ values: [String]) -> String {
        let widths = [nameWidth, 10, 8, 12, 9, 9, 9]
        return zip(values, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(
            separator: "  ")
    }

    /// `42s`, `3m05s`, `2h03m`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
    }
}

/// The few curses calls the view makes, on the view's thread only.
enum Screen {
    nonisolated(unsafe) private static var active = false

    static func open(colours: Bool) {
        setlocale(LC_ALL, "")
        if String(cString: nl_langinfo(nl_item(CODESET))) != "UTF-8" { setlocale(LC_CTYPE, "C.UTF-8") }
        initscr()
        active = true
        atexit { Screen.restore() }
        cbreak()  // keys at once; Ctrl-C still raises SIGINT, handled as in plain `up`
        noecho()
        keypad(muster_stdscr(), true)
        curs_set(0)
        wtimeout(muster_stdscr(), 250)
        if colours, has_colors() {
            start_color()
            use_default_colors()
            init_pair(1, Int16(COLOR_GREEN), -1)
            init_pair(2, Int16(COLOR_YELLOW), -1)
            init_pair(3, Int16(COLOR_RED), -1)
            for (offset, colour) in [COLOR_CYAN, COLOR_YELLOW, COLOR_GREEN, COLOR_MAGENTA, COLOR_BLUE, COLOR_RED]
                .enumerated()
            {
                init_pair(Int16(10 + offset), Int16(colour), -1)
            }
        }
    }

    static func close() {
        restore()
    }

    /// endwin once, whichever exit path gets here first.
    private static func restore() {
        guard active else { return }
        active = false
        endwin()
    }

    static func statePair(_ state: String) -> Int16? {
        switch ServicePhase(rawValue: state) {
        case .ready?, .completed?: return 1
        case .starting?, .backoff?, .stopping?: return 2
        case .failed?, .exited?: return 3
        default: return nil
        }
    }

    /// Writes `text` at row `y`, column `x`, cut to the screen's width (never
    /// into the last column, which would scroll at the bottom right).
    static func put(_ y: Int, _ text: String, x: Int = 0, width: Int, fill: Bool = false, attributes: Int32 = 0) {
        let room = width - 1 - x
        guard room > 0 else { return }
        var clipped = clip(text, columns: room)
        if fill { clipped += String(repeating: " ", count: max(0, room - columnsOf(clipped))) }
        if attributes != 0 { muster_attron(attributes) }
        mvaddstr(Int32(y), Int32(x), clipped)
        if attributes != 0 { muster_attroff(attributes) }
    }

    /// The text without control characters and escape sequences, at most `columns` wide.
    static func clip(_ text: String, columns: Int) -> String {
        var result = String.UnicodeScalarView()
        var used = 0
        var escape = false
        for scalar in text.unicodeScalars {
            if escape {
                if (0x40...0x7E).contains(scalar.value), scalar != "[" { escape = false }
                continue
            }
            if scalar == "\u{1B}" { escape = true; continue }
            let shown: Unicode.Scalar = scalar == "\t" ? " " : scalar
            if shown.value < 0x20 || shown.value == 0x7F { continue }
            let cells = max(0, Int(muster_wcwidth(shown.value)))
            if used + cells > columns { break }
            used += cells
            result.append(shown)
        }
        return String(result)
    }

    static func columnsOf(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + max(0, Int(muster_wcwidth($1.value))) }
    }
}
