/*
** ea_rank(): FTS5's bm25 with the IDFs given, not counted.
**
**   ea_rank(search_fts, w_0, ..., w_{C-1}, idf_0, ..., idf_{P-1})
**
** C column weights, then one IDF per phrase of the MATCH expression, in the order the phrases
** are written (a phrase not given one: 0). The score is bm25 as FTS5's bm25() computes it
** (k1 = 1.2, b = 0.75, the row's tokens in all columns against the average), negated as FTS5
** ranks. FTS5's bm25() first walks every row holding each phrase to count them (one more walk
** of the whole index for each term, and of each filter token); here the caller passes IDFs it
** has from kept document counts, so only the hits are read. archive/search/rank_ext.py builds
** and loads it; without it, search falls back to bm25().
*/
#include <sqlite3ext.h>
#include <math.h>
#include <string.h>
SQLITE_EXTENSION_INIT1

typedef struct {
  double avgdl;
} RankData;

static void ea_rank(const Fts5ExtensionApi *pApi, Fts5Context *pFts, sqlite3_context *pCtx,
                    int nVal, sqlite3_value **apVal) {
  const double k1 = 1.2, b = 0.75;
  int nCol = pApi->xColumnCount(pFts);
  int nPhrase = pApi->xPhraseCount(pFts);
  double aStack[64], *aFreq = aStack;
  double aWeight[16];
  int rc = SQLITE_OK, nInst = 0, nTok = 0, i;
  RankData *pData;
  double score = 0.0, D;

  if (nCol > 16 || nVal < nCol) {
    sqlite3_result_error(pCtx, "ea_rank: too many columns, or too few weights", -1);
    return;
  }
  pData = (RankData *)pApi->xGetAuxdata(pFts, 0);
  if (pData == 0) {
    sqlite3_int64 nRow = 0, nToken = 0;
    pData = (RankData *)sqlite3_malloc(sizeof(RankData));
    if (pData == 0) { sqlite3_result_error_nomem(pCtx); return; }
    rc = pApi->xRowCount(pFts, &nRow);
    if (rc == SQLITE_OK) rc = pApi->xColumnTotalSize(pFts, -1, &nToken);
    pData->avgdl = nRow > 0 ? (double)nToken / (double)nRow : 1.0;
    if (rc == SQLITE_OK) rc = pApi->xSetAuxdata(pFts, pData, sqlite3_free);
    else sqlite3_free(pData);
    if (rc != SQLITE_OK) { sqlite3_result_error_code(pCtx, rc); return; }
  }
  for (i = 0; i < nCol; i++) aWeight[i] = sqlite3_value_double(apVal[i]);
  if (nPhrase > 64) {   /* a code filter may OR many tokens */
    aFreq = (double *)sqlite3_malloc64(sizeof(double) * nPhrase);
    if (aFreq == 0) { sqlite3_result_error_nomem(pCtx); return; }
  }
  memset(aFreq, 0, sizeof(double) * (nPhrase > 0 ? nPhrase : 1));
  rc = pApi->xInstCount(pFts, &nInst);
  for (i = 0; rc == SQLITE_OK && i < nInst; i++) {
    int ip, ic, io;
    rc = pApi->xInst(pFts, i, &ip, &ic, &io);
    if (rc == SQLITE_OK && ip >= 0 && ip < nPhrase && ic >= 0 && ic < nCol) aFreq[ip] += aWeight[ic];
  }
  if (rc == SQLITE_OK) rc = pApi->xColumnSize(pFts, -1, &nTok);
  if (rc == SQLITE_OK) {
    D = (double)nTok;
    for (i = 0; i < nPhrase && nCol + i < nVal; i++) {
      double idf = sqlite3_value_double(apVal[nCol + i]);
      if (idf != 0.0 && aFreq[i] > 0.0)
        score += idf * ((aFreq[i] * (k1 + 1.0)) / (aFreq[i] + k1 * (1 - b + b * D / pData->avgdl)));
    }
  }
  if (aFreq != aStack) sqlite3_free(aFreq);
  if (rc != SQLITE_OK) { sqlite3_result_error_code(pCtx, rc); return; }
  sqlite3_result_double(pCtx, -1.0 * score);
}

static fts5_api *fts5_api_from_db(sqlite3 *db) {
  fts5_api *pRet = 0;
  sqlite3_stmt *pStmt = 0;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &pStmt, 0) == SQLITE_OK) {
    sqlite3_bind_pointer(pStmt, 1, (void *)&pRet, "fts5_api_ptr", 0);
    sqlite3_step(pStmt);
  }
  sqlite3_finalize(pStmt);
  return pRet;
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_rankext_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  fts5_api *fts;
  SQLITE_EXTENSION_INIT2(pApi);
  fts = fts5_api_from_db(db);
  if (fts == 0 || fts->iVersion < 2) {
    if (pzErrMsg) *pzErrMsg = sqlite3_mprintf("ea_rank: no FTS5 in this SQLite");
    return SQLITE_ERROR;
  }
  return fts->xCreateFunction(fts, "ea_rank", 0, ea_rank, 0);
}

/* the entry point SQLite looks for when none is named */
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_extension_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  return sqlite3_rankext_init(db, pzErrMsg, pApi);
}
