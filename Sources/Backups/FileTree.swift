#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File names are bytes; a manifest is JSON text. A path is written as its UTF-8 text where it is valid UTF-8,
/// with every byte that is not (and every backslash) written as `\xHH`, so no name is lost or confused with
/// another: `escape` and `bytes` are inverses.
enum PathCodec {
    static func escape(_ raw: some Collection<UInt8>) -> String {
        let bytes = Array(raw)
        if !bytes.contains(0x5C), let s = String(validating: bytes, as: UTF8.self) { return s }
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = sequenceLength(bytes, i)
            if n > 0 {
                out += String(decoding: bytes[i..<i + n], as: UTF8.self)
                i += n
            } else {
                out += "\\x" + String(bytes[i], radix: 16, uppercase: true).leftPadded(2)
                i += 1
            }
        }
        return out
    }

    /// The length of the valid UTF-8 sequence at `i` (not a backslash), or 0.
    static func sequenceLength(_ b: [UInt8], _ i: Int) -> Int {
        let c = b[i]
        if c == 0x5C { return 0 }
        if c < 0x80 { return 1 }
        let n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0
        guard n > 0, i + n <= b.count, String(validating: b[i..<i + n], as: UTF8.self) != nil else { return 0 }
        return n
    }

    /// The bytes of an escaped path (a `\x` not followed by two hex digits is taken literally).
    static func bytes(_ path: String) -> [UInt8] {
        let u = Array(path.utf8)
        guard u.contains(0x5C) else { return u }
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            if u[i] == 0x5C, i + 3 < u.count, u[i + 1] == UInt8(ascii: "x"),
               let v = UInt8(String(decoding: u[i + 2...i + 3], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 4
            } else {
                out.append(u[i])
                i += 1
            }
        }
        return out
    }

    /// Calls `body` with the NUL-terminated bytes of an escaped path, for the file-system calls.
    static func withCString<R>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        let b = bytes(path) + [0]
        return try b.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// Walks file trees with lstat (symbolic links are entries, never followed), in path order. Paths are in
/// ``PathCodec``'s form.
enum FileTree {
    /// Every entry under each root (the roots included), minus those whose name or path relative to the root
    /// matches an `exclude` glob. Sockets, devices and FIFOs are skipped: tar cannot restore them meaningfully.
    /// An entry that cannot be read (permissions) fails the walk: a backup never leaves a file out silently.
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
        out.sort { PathCodec.bytes($0.path).lexicographicallyPrecedes(PathCodec.bytes($1.path)) }
        return out
    }

    static func excluded(_ name: String, relative: String, _ exclude: [String]) -> Bool {
        exclude.contains { pattern in
            PathCodec.withCString(name) { fnmatch(pattern, $0, 0) == 0 } ||
                PathCodec.withCString(relative) { fnmatch(pattern, $0, FNM_PATHNAME) == 0 }
        }
    }

    static func descend(_ dir: String, root: String, exclude: [String], into out: inout [BackupManifest.Entry]) throws {
        guard let d = PathCodec.withCString(dir, { opendir($0) }) else {
            throw BackupError.runner("cannot read directory \(dir): \(String(cString: strerror(errno)))")
        }
        defer { closedir(d) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let ent = readdir(d) else {
                if errno != 0 { throw BackupError.runner("cannot read directory \(dir): \(String(cString: strerror(errno)))") }
                break
            }
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        for raw in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let name = PathCodec.escape(raw)
            let path = dir == "/" ? "/" + name : dir + "/" + name
            let relative = String(path.dropFirst(root == "/" ? 1 : root.count + 1))
            if excluded(name, relative: relative, exclude) { continue }
            guard let e = try entry(path) else { continue }  // gone since readdir
            out.append(e)
            if e.type == "d" { try descend(path, root: root, exclude: exclude, into: &out) }
        }
    }

    static func entry(_ path: String) throws -> BackupManifest.Entry? {
        var st = stat()
        guard PathCodec.withCString(path, { lstat($0, &st) }) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw BackupError.runner("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        let kind = st.st_mode & S_IFMT
        let type: String
        var link: String?
        switch kind {
        case S_IFREG:
            type = "f"
            // Readable now, or tar would skip it later with a warning only.
            let fd = PathCodec.withCString(path) { open($0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) }
            if fd < 0 {
                if errno == ENOENT { return nil }
                throw BackupError.runner("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            close(fd)
        case S_IFDIR: type = "d"
        case S_IFLNK:
            type = "l"
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = PathCodec.withCString(path) { readlink($0, &buf, buf.count - 1) }
            guard n >= 0 else { throw BackupError.runner("cannot read link \(path)") }
            link = PathCodec.escape(buf[0..<n].map { UInt8(bitPattern: $0) })
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

    /// Removes an entry and, for a directory, everything below it, never following a symbolic link.
    static func remove(_ path: String) throws {
        var st = stat()
        guard PathCodec.withCString(path, { lstat($0, &st) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            guard let d = PathCodec.withCString(path, { opendir($0) }) else {
                throw BackupError.runner("cannot read directory \(path): \(String(cString: strerror(errno)))")
            }
            var names: [[UInt8]] = []
            while let ent = readdir(d) {
                let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
            }
            closedir(d)
            for n in names { try remove(path + "/" + PathCodec.escape(n)) }
            guard PathCodec.withCString(path, { rmdir($0) }) == 0 else {
                throw BackupError.runner("cannot remove \(path): \(String(cString: strerror(errno)))")
            }
        } else {
            guard PathCodec.withCString(path, { unlink($0) }) == 0 || errno == ENOENT else {
                throw BackupError.runner("cannot remove \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Sets a directory's mode without following a symbolic link put in its place.
    static func chmodDirectory(_ path: String, _ mode: Int) {
        let fd = PathCodec.withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) }
        guard fd >= 0 else { return }
        fchmod(fd, mode_t(mode))
        close(fd)
    }
}
