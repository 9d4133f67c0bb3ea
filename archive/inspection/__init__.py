"""督查整改 and 模拟测评: 点位 (sites), problems with before/after photos, rounds and their
scores, the 整改台账 ledger. Records beside items (docs/ARCHITECTURE.md); docs/inspection.md."""
