-- Perceptual hashes of every stored photo (archive/evidence/photos.py), for the reuse check.
-- phash (DCT) and dhash (gradient) are 64-bit, stored as signed SQLite integers. Lookups use
-- the 16 bytes of the two hashes as bands: a near copy shares at least one band with its
-- original in 99 % of cases (bench/photos.py), and each band has an index on its expression.
CREATE TABLE photo_hashes (
    sha256 TEXT PRIMARY KEY,
    phash INTEGER NOT NULL,
    dhash INTEGER NOT NULL,
    computed_at TEXT NOT NULL
);
CREATE INDEX photo_hashes_p0 ON photo_hashes ((phash & 255));
CREATE INDEX photo_hashes_p1 ON photo_hashes (((phash >> 8) & 255));
CREATE INDEX photo_hashes_p2 ON photo_hashes (((phash >> 16) & 255));
CREATE INDEX photo_hashes_p3 ON photo_hashes (((phash >> 24) & 255));
CREATE INDEX photo_hashes_p4 ON photo_hashes (((phash >> 32) & 255));
CREATE INDEX photo_hashes_p5 ON photo_hashes (((phash >> 40) & 255));
CREATE INDEX photo_hashes_p6 ON photo_hashes (((phash >> 48) & 255));
CREATE INDEX photo_hashes_p7 ON photo_hashes (((phash >> 56) & 255));
CREATE INDEX photo_hashes_d0 ON photo_hashes ((dhash & 255));
CREATE INDEX photo_hashes_d1 ON photo_hashes (((dhash >> 8) & 255));
CREATE INDEX photo_hashes_d2 ON photo_hashes (((dhash >> 16) & 255));
CREATE INDEX photo_hashes_d3 ON photo_hashes (((dhash >> 24) & 255));
CREATE INDEX photo_hashes_d4 ON photo_hashes (((dhash >> 32) & 255));
CREATE INDEX photo_hashes_d5 ON photo_hashes (((dhash >> 40) & 255));
CREATE INDEX photo_hashes_d6 ON photo_hashes (((dhash >> 48) & 255));
CREATE INDEX photo_hashes_d7 ON photo_hashes (((dhash >> 56) & 255));
-- Near-duplicate pairs found so far (derived: `evidence photos rehash` rebuilds both tables).
-- a_sha256 < b_sha256; distance = Hamming(phash) + Hamming(dhash).
CREATE TABLE photo_matches (
    a_sha256 TEXT NOT NULL,
    b_sha256 TEXT NOT NULL,
    distance INTEGER NOT NULL,
    found_at TEXT NOT NULL,
    PRIMARY KEY (a_sha256, b_sha256)
);
CREATE INDEX photo_matches_b ON photo_matches (b_sha256);
