/// MurmurHash3, x86 32-bit variant (Austin Appleby's public-domain algorithm): the hash flagd's `fractional` and
/// this operator's bucketing version 1 use. Fixed forever: changing it would move users between buckets.
public enum Murmur3 {
    /// The hash of `bytes` with `seed` (0 by default, as flagd and Python's `mmh3.hash(s, signed=False)`).
    public static func hash32<C: Collection>(_ bytes: C, seed: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var hasher = Hasher(seed: seed)
        for b in bytes { hasher.feed(b) }
        return hasher.finish()
    }

    public static func hash32(_ string: String, seed: UInt32 = 0) -> UInt32 {
        var s = string
        return s.withUTF8 { hash32($0, seed: seed) }
    }

    /// The same hash fed in parts (no concatenated copy of the input).
    public struct Hasher {
        var h: UInt32
        var k: UInt32 = 0
        var shift: UInt32 = 0
        var length: UInt32 = 0
        public init(seed: UInt32 = 0) { h = seed }

        public mutating func feed(_ b: UInt8) {
            k |= UInt32(b) << shift
            shift += 8
            length &+= 1
            if shift == 32 {
                var k1 = k &* 0xcc9e_2d51
                k1 = (k1 << 15) | (k1 >> 17)
                k1 = k1 &* 0x1b87_3593
                h ^= k1
                h = (h << 13) | (h >> 19)
                h = h &* 5 &+ 0xe654_6b64
                k = 0
                shift = 0
            }
        }

        public mutating func feed(_ s: String) {
            var s = s
            s.withUTF8 { for b in $0 { feed(b) } }
        }

        public mutating func finish() -> UInt32 {
            var h = self.h
            if shift > 0 {
                var k1 = k &* 0xcc9e_2d51
                k1 = (k1 << 15) | (k1 >> 17)
                k1 = k1 &* 0x1b87_3593
                h ^= k1
            }
            h ^= length
            h ^= h >> 16
            h = h &* 0x85eb_ca6b
            h ^= h >> 13
            h = h &* 0xc2b2_ae35
            h ^= h >> 16
            return h
        }
    }
}
