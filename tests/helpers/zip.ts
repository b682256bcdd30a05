// A minimal zip writer (stored or deflated members, no ZIP64) for tests of the wheel reader and
// of model fetches from a package index.
import { crc32, deflateRawSync } from 'node:zlib'

export function makeZip(members: Array<{ name: string; data: Buffer; deflate?: boolean; mode?: number; claimSize?: number }>): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const m of members) {
    const body = m.deflate ? deflateRawSync(m.data) : m.data
    const name = Buffer.from(m.name)
    const crc = crc32(m.data)
    const lh = Buffer.alloc(30)
    lh.writeUInt32LE(0x04034b50, 0)
    lh.writeUInt16LE(20, 4)
    lh.writeUInt16LE(m.deflate ? 8 : 0, 8)
    lh.writeUInt32LE(crc, 14)
    lh.writeUInt32LE(body.length, 18)
    lh.writeUInt32LE(m.data.length, 22)
    lh.writeUInt16LE(name.length, 26)
    locals.push(lh, name, body)
    const ch = Buffer.alloc(46)
    ch.writeUInt32LE(0x02014b50, 0)
    ch.writeUInt16LE(0x0314, 4)
    ch.writeUInt16LE(20, 6)
    ch.writeUInt16LE(m.deflate ? 8 : 0, 10)
    ch.writeUInt32LE(crc, 16)
    ch.writeUInt32LE(body.length, 20)
    ch.writeUInt32LE(m.claimSize ?? m.data.length, 24)
    ch.writeUInt16LE(name.length, 28)
    ch.writeUInt32LE(((0o100000 | (m.mode ?? 0o644)) << 16) >>> 0, 38)
    ch.writeUInt32LE(offset, 42)
    centrals.push(ch, name)
    offset += 30 + name.length + body.length
  }
  const cd = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(members.length, 8)
  end.writeUInt16LE(members.length, 10)
  end.writeUInt32LE(cd.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, end])
}
