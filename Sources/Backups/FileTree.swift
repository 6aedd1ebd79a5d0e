#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Walks file trees with lstat (symbolic links are entries, never followed), in path order.
enum FileTree {
    /// Every entry under each root (the roots included), minus those whose name or path relative to the root
    /// matches an `exclude` glob. Sockets, devices and FIFOs are skipped: tar cannot restore them meaningfully.
    static func walk(roots: [String], exclude: [String]) throws -> [BackupManifest.Entry] {
        var out: [BackupManifest.Entry] = []
        for root in roots {
            var r = root
            while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
            guard r.hasPrefix("/") else { throw BackupError.invalid("files path \(root) is not absolute") }
            guard let e = try entry(r) else { throw BackupError.runner("files path \(r) does not exist") }
            out.append(e)
            if e.type == "d" { try descend(r, root: r, exclude: exclude, into: &out) }
        }
        out.sort { $0.path < $1.path }
        return out
    }

    static func descend(_ dir: String, root: String, exclude: [String], into out: inout [BackupManifest.Entry]) throws {
        guard let d = opendir(dir) else { throw BackupError.runner("cannot read directory \(dir): \(String(cString: strerror(errno)))") }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        for name in names.sorted() {
            let path = dir == "/" ? "/" + name : dir + "/" + name
            let relative = String(path.dropFirst(root == "/" ? 1 : root.count + 1))
            if exclude.contains(where: { fnmatch($0, name, 0) == 0 || fnmatch($0, relative, FNM_PATHNAME) == 0 }) { continue }
            guard let e = try entry(path) else { continue }  // gone since readdir
            out.append(e)
            if e.type == "d" { try descend(path, root: root, exclude: exclude, into: &out) }
        }
    }

    static func entry(_ path: String) throws -> BackupManifest.Entry? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw BackupError.runner("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        let kind = st.st_mode & S_IFMT
        let type: String
        var link: String?
        switch kind {
        case S_IFREG: type = "f"
        case S_IFDIR: type = "d"
        case S_IFLNK:
            type = "l"
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(path, &buf, buf.count - 1)
            guard n >= 0 else { throw BackupError.runner("cannot read link \(path)") }
            link = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        default: return nil
        }
        #if canImport(Glibc)
        let mtime = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
        #else
        let mtime = Int(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int(st.st_mtimespec.tv_nsec)
        #endif
        return BackupManifest.Entry(path: path, type: type, mode: Int(st.st_mode & 0o7777), size: type == "f" ? Int(st.st_size) : 0,
                                    mtime: mtime, link: link)
    }

    /// The entries of `now` that are new or changed against `before` (type, size, mtime, mode or link target).
    static func changed(_ now: [BackupManifest.Entry], since before: [BackupManifest.Entry]) -> [BackupManifest.Entry] {
        let old = Dictionary(before.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        return now.filter { old[$0.path] != $0 }
    }
}
