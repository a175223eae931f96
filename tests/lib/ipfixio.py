"""ipfixio — a small, independent IPFIX (RFC 7011) reader for the tests.

It decodes what a collector receives: template sets (id 2, enterprise elements included) and the
data sets they describe, variable-length fields too. Written from the RFC rather than on
libfixbuf, so a test that compares tide's export with it checks tide's encoding, not the same
library twice. Options templates (id 3) are skipped. Addresses come back as text, strings as
str, unsigned integers as int.

  reader = Reader()
  for rec in reader.feed(message_bytes): ...   # dicts keyed by (enterprise, element id)
  reader.messages, reader.templates            # what was seen
"""

import ipaddress
import struct

IANA = 0


class Reader:
    def __init__(self):
        self.templates = {}   # (domain, template id) -> [(enterprise, ie, length)]
        self.messages = 0
        self.domains = set()

    def feed(self, msg):
        """Decode one IPFIX message; returns its data records."""
        if len(msg) < 16:
            raise ValueError("short IPFIX message (%d bytes)" % len(msg))
        version, length, _export_time, _seq, domain = struct.unpack("!HHIII", msg[:16])
        if version != 10:
            raise ValueError("not IPFIX: version %d" % version)
        if length != len(msg):
            raise ValueError("message length %d != %d received" % (length, len(msg)))
        self.messages += 1
        self.domains.add(domain)
        out = []
        off = 16
        while off + 4 <= length:
            set_id, set_len = struct.unpack("!HH", msg[off:off + 4])
            if set_len < 4 or off + set_len > length:
                raise ValueError("bad set length %d at %d" % (set_len, off))
            body = msg[off + 4:off + set_len]
            if set_id == 2:
                self._templates(domain, body)
            elif set_id >= 256:
                out.extend(self._data(domain, set_id, body))
            off += set_len
        return out

    def _templates(self, domain, body):
        o = 0
        while o + 4 <= len(body):
            tid, count = struct.unpack("!HH", body[o:o + 4])
            o += 4
            fields = []
            for _ in range(count):
                ie, flen = struct.unpack("!HH", body[o:o + 4])
                o += 4
                ent = IANA
                if ie & 0x8000:
                    ent, = struct.unpack("!I", body[o:o + 4])
                    o += 4
                    ie &= 0x7FFF
                fields.append((ent, ie, flen))
            self.templates[(domain, tid)] = fields

    def _data(self, domain, tid, body):
        fields = self.templates.get((domain, tid))
        if fields is None:
            raise ValueError("data set %d before its template" % tid)
        recs = []
        o = 0
        min_len = sum(1 if f[2] == 65535 else f[2] for f in fields)
        while len(body) - o >= min_len and min_len > 0:
            rec = {}
            for ent, ie, flen in fields:
                if flen == 65535:
                    flen = body[o]
                    o += 1
                    if flen == 255:
                        flen, = struct.unpack("!H", body[o:o + 2])
                        o += 2
                    rec[(ent, ie)] = body[o:o + flen].decode("utf-8", "replace")
                else:
                    rec[(ent, ie)] = _value(ent, ie, body[o:o + flen])
                o += flen
            recs.append(rec)
        return recs


_ADDR = {8: 4, 12: 4, 27: 16, 28: 16}


def _value(ent, ie, raw):
    if ent == IANA and ie in _ADDR:
        return str(ipaddress.ip_address(raw))
    return int.from_bytes(raw, "big")
