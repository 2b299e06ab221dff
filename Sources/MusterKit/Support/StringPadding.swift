extension String {
    /// `"7".leftPadded(to: 3)` is `"007"`: hex ports, fixed-width numbers.
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
