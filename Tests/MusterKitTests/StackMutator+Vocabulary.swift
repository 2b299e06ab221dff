import Foundation
import Testing
@testable import MusterKit

/// The words the mutations put in: the format's keys, values of every wrong type,
/// multi-line values, interpolations, durations, ports, signals, paths, numbers and
/// YAML snippets.
extension StackMutator {
    static let knownKeys =
        ServiceParser.commonKeys + ServiceParser.engineKeys + StackLoader.topLevelKeys + ProbeSpec.kindNames
        + [
            "interval", "timeout", "start_timeout", "failures", "identity", "condition", "name", "partitions",
            "replication_factor", "group", "topic",
        ]

    static let foreignValues = [
        "0", "-1", "42", "3.14", "-0", "1e309", "-1e309", ".inf", "-.inf", ".nan", "0x7fffffff", "0o777", "0b101",
        "99999999999999999999999999999", "-9223372036854775808", "9223372036854775807", "18446744073709551616",
        "[]", "[a, b]", "[[1], [2]]", "[\"\"]", "{}", "{a: 1}", "{ condition: ready }", "{condition: [x]}", "null", "~",
        "\"\"", "''",
        "true", "false", "yes", "no", "on", "\"   \"", "-", "- a", "? x", "|", ">-", "|-\n  multi\n  line",
        "!!binary aGVsbG8=",
        "!!int 3", "!!str", "!!map {}", "!!seq []", "!!null ''", "!custom x", "&a x", "*missing", "\"\\u0000\"",
        "\"\\x85\"", "\"\\e\"",
        "…", "🚀", "http://", "127.0.0.1:", ":80", "auto", "AUTO", "sh", "/", "..", "../../../../etc", "/dev/null",
        "\"a\\nb\"",
        "x\u{0}y", "\"#not a comment\"", "a #comment", "[a,, b]", "{a}", "{: x}", "@", "`x`", "%", "x: y", "\"x\": y",
    ]

    static let multilineValues = [
        "|\nline one\n${FUZZ_UNSET", "|\necho ${oops\ndone", ">-\nfolded ${db.url}\ntext", "\"multi\nline ${\"",
        "|\n${a.b.c}\nx",
        "|\n${FUZZ_UNSET:?not\nset}", "|-\n${X:-${Y}\n}", "\n- a\n- b", "\n- [a, b]\n- {c: d}", "\na: 1\nb: 2",
        "\n- ${db.url}\n- ${",
        "|\n  more indented\nless", "|2\n   explicit indent", "'single\n\n  quoted ${'", "\"\\\nescaped break\"",
    ]

    static let interpolations = [
        "${FUZZ_UNSET}", "${FUZZ_UNSET:?is required}", "${FUZZ_UNSET?}", "${FUZZ_EMPTY:?empty}", "${FUZZ_UNSET:+alt}",
        "${db.url}", "${nope.url}", "${db.nope}", "${a.b.c}", "${.}", "${.x}", "${x.}", "${9x}", "${-}", "${:-x}",
        "${X:-${Y:-${Z}}}",
        "${db.url:-x}", "${X:-${db.url}}", "${X!}", "${X:}", "${X:=y}", "${X%%y}", "$$", "$$$", "$", "$1", "${}",
        "${ X }",
        "${X}${Y}${Z}", "${api.port}${api.port}", "${FUZZ_LEVEL:-${FUZZ_LEVEL:-${FUZZ_LEVEL}}}", "${é}", "${X\u{0}}",
        "$é",
    ]

    static let durations = [
        "0s", "0ms", "-1s", "1", "0", "1.5.5s", "1e400s", "99999999999h", "1m30", "ms", ".s", "5 s", "1µs", "1us",
        "1ns",
        "9223372036854775807ns", "1s1s1s", "0.0000001ns", "NaNs", "infs", "1d", "1h1h1h1h1h1h1h1h1h1h",
        "18446744073709551616ms",
        "00000000000001s", "8760h", "8761h", "525600m", "1.s", "1..s", "s", "", "[1s]", "{}", "2S", "2 seconds", "२s",
        "１s",
    ]

    static let ports = [
        "0", "1", "65535", "65536", "-1", "auto", "AUTO", "\" auto\"", "80.5", "0x50", "99999999999999999999", "1_000",
        "+80", "８０",
        "[80]", "{}", "null", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", ":8080", "localhost:-1", "http://",
        "ftp://x", "https://[::1",
    ]

    static let signals = [
        "SIGFOO", "9", "0", "-9", "sigterm", "TERM", "SIG", "\"\"", "999999999999", "SIGRTMIN", "2147483648",
        "-2147483649",
        "SIGKILL", "STOP", "ſigterm", "SIGTERM ", "[SIGTERM]", "15.0", "0x0f",
    ]

    static let paths = [
        "/dev/zero", "/dev/urandom", "/dev/null", "/", ".", "..", "fuzz.env", "service.env", "missing.env",
        "/etc/passwd",
        "/proc/self/status", "[fuzz.env, /dev/zero]", "[/dev/null, /]", "\"\"", "fuzz.env/", "~/x", "${HOME}/fuzz.env",
        "${db.url}",
        "fuzz.env\u{0}", "./././fuzz.env", "../../../../../../../../dev/zero",
    ]

    static let numbers = [
        "0", "-1", "1", "1000", "1001", "10000", "10001", "1000000", "1000001", "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809", "1.0", "1e3", "0x10", "\"5\"", "five", "", "[5]",
    ]

    static let yamlSnippets = [
        "---", "...", "%YAML 1.2", "&anchor", "*undefined", "!!set", "<<: *grace", "? complex", ": value", "- item",
        "#", "'", "\"",
        "|", ">", "@reserved", "`tick", "%", "!", "&", "*", "  services:", "services:", "services: {}", "services: []",
        "name: x y",
        "name: \"\"", "env_file: missing.env", "env_file: /", "env_file: [fuzz.env, /dev/null]", "env: [A]",
        "env: [=x]",
        "? [a, b]\n: c", "{a: 1}: b", "[a]: b", "!!map", "!<tag:yaml.org,2002:str> x", "x-ext: &x {a: 1}", "key: &a *a",
        "\t", " \t ", "\u{FEFF}name: bom", "a: b: c", "- - -", "? ? ?", "{", "}", "[", "]",
    ]
}
