# Counts the guest instructions a qemu-user run executed, from its log with
# `-d nochain,exec,in_asm`: each translation block is listed once when
# translated ("IN:" then one line per instruction) and traced once per
# execution ("Trace N: HOST [FLAGS/PC/...] SYMBOL"). The count is the sum,
# over traces, of the instructions of the block starting at that pc; with
# `nochain` every executed block is traced, so it is exact.
#
# Prints "total N" and, per symbol of the main program (qemu names blocks
# only there; blocks of shared libraries have no name and count as
# "[shared-libraries]"), "symbol COUNT NAME"; with -v pcs=1 also, per
# unnamed block, "pc COUNT HEXPC" (scripts/lib/icount_symbols.py names them).
BEGIN { in_block = 0; pc = ""; n = 0; total = 0 }

function close_block() {
  if (in_block && pc != "") size[pc] = n
  in_block = 0; pc = ""; n = 0
}

/^IN:/ { close_block(); in_block = 1; next }

/^0x[0-9a-f]+:/ {
  if (in_block) {
    if (n == 0) { pc = substr($1, 3, length($1) - 3); sub(/^0+/, "", pc) }
    n++
  }
  next
}

/^Trace / {
  close_block()
  # "[0000000000001001/00000055028ece40/00000001/00000200]"
  split($4, f, "/")
  key = f[2]
  sub(/^0+/, "", key)
  c = size[key]
  total += c
  name = (NF >= 5) ? $5 : "[shared-libraries]"
  by_symbol[name] += c
  if (NF < 5) by_pc[key] += c
  next
}

{ close_block() }

END {
  print "total", total
  for (s in by_symbol) print "symbol", by_symbol[s], s
  if (pcs) for (p in by_pc) print "pc", by_pc[p], p
}
