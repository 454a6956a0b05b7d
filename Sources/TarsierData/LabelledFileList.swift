import Foundation

/// A dataset listed in a CSV or TSV file: one `path,label` row per image.
///
/// The separator is a tab when the first line has one, else a comma. Relative paths are
/// resolved against the list's folder. Labels are class names or integers; with names the classes
/// are the sorted distinct names, with integers they are `0...max` (named by their numbers). A
/// first row whose label column reads `label` or `class` (any case) is a header. Fields may be
/// double-quoted (with `""` for a quote) so paths can hold commas.
public enum LabelledFileList {
    /// Reads the list at `path`.
    /// - Throws: `DatasetError` naming the file and line of a malformed row.
    public static func load(path: String) throws -> ImageFileDataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(kind: .notFound, file: path, detail: "the list file '\(path)' does not exist or cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(kind: .unreadable, file: path, detail: "the list is not UTF-8 text")
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let separator: Character = (lines.first?.contains("\t") ?? false) ? "\t" : ","
        let base = (path as NSString).deletingLastPathComponent
        var rows: [(path: String, label: String)] = []
        for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let fields = try splitFields(line, separator: separator, file: path, line: number + 1)
            guard fields.count == 2 else {
                throw DatasetError(kind: .inconsistent, file: path,
                                   detail: "line \(number + 1) has \(fields.count) fields; each row is 'path\(separator == "\t" ? "<tab>" : ",")label'")
            }
            let label = fields[1].trimmingCharacters(in: .whitespaces)
            if rows.isEmpty && number == 0 && ["label", "class"].contains(label.lowercased()) { continue }
            guard !label.isEmpty, !fields[0].isEmpty else {
                throw DatasetError(kind: .inconsistent, file: path, detail: "line \(number + 1) has an empty path or label")
            }
            let file = fields[0].hasPrefix("/") || base.isEmpty ? fields[0] : base + "/" + fields[0]
            rows.append((file, label))
        }
        guard !rows.isEmpty else {
            throw DatasetError(kind: .inconsistent, file: path, detail: "the list has no rows")
        }
        let numeric = rows.allSatisfy { Int($0.label).map { $0 >= 0 } ?? false }
        let classNames: [String]
        let labels: [Int]
        if numeric {
            labels = rows.map { Int($0.label) ?? 0 }
            classNames = (0...(labels.max() ?? 0)).map(String.init)
        } else {
            classNames = Array(Set(rows.map(\.label))).sorted(by: codePointOrder)
            let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
            labels = rows.map { index[$0.label] ?? 0 }
        }
        let samples = zip(rows, labels).map { ImageFileDataset.Sample(path: $0.path, label: $1) }
        return ImageFileDataset(samples: samples, classNames: classNames, source: path)
    }

    /// Splits one row, honouring double quotes.
    static func splitFields(_ line: String, separator: Character, file: String, line number: Int) throws -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(line).makeIterator()
        var pendingQuote = false
        while let ch = iterator.next() {
            if pendingQuote {
                pendingQuote = false
                if ch == "\"" { current.append("\""); continue }
                quoted = false
            }
            if quoted {
                if ch == "\"" { pendingQuote = true } else { current.append(ch) }
            } else if ch == "\"" && current.isEmpty {
                quoted = true
            } else if ch == separator {
                fields.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        if quoted && !pendingQuote {
            throw DatasetError(kind: .inconsistent, file: file, detail: "line \(number) has an unclosed quote")
        }
        fields.append(current)
        return fields
    }
}
