-- Photos are OCR'd too (banners, 公益广告 boards, signs and captions are evidence): photos kept
-- before this change, which were never queued, join the OCR queue. Nothing else changes; the
-- queue writes each result (and its audit row) in its own transaction.
UPDATE items SET ocr_status = 'pending'
 WHERE kind IN ('jpeg', 'png') AND ocr_status = 'none' AND deleted_at IS NULL;
