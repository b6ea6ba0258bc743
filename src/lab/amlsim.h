/* amlsim.h — IBM AMLSim sample data for `fraudwatch eval --amlsim`: the
 * transactions.csv and nodes.csv of a simulation, read from a folder, from a
 * .tgz in memory (archive.h: nothing is unpacked to disk) or from a folder
 * of such archives. Each transfer becomes a fraudwatch transaction record,
 * rows ordered by simulation step (one step = one day), so the engine runs on
 * it exactly as on any input.
 * Labels are per account (nodes.csv isFraud). */
#ifndef FW_AMLSIM_H
#define FW_AMLSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"

/** Largest archive, and largest decompressed archive, read (bytes). */
#define FW_AMLSIM_MAX_BYTES ((size_t)1 << 30)
/** Longest account id accepted (the engine tracks ids up to 64 bytes). */
#define FW_AMLSIM_MAX_ID 64
/** Event time of step 1: 2017-01-01T00:00:00Z. */
#define FW_AMLSIM_EPOCH_MS 1483228800000LL
#define FW_AMLSIM_STEP_MS 86400000LL
/** Highest simulation step accepted (a few thousand years of days). */
#define FW_AMLSIM_MAX_STEP 1000000

/* ------------------------------------------------------------ AMLSim data */

typedef struct fw_amlsim_txn {
    uint32_t src, dst;    /* account indices */
    uint32_t line;        /* line in transactions.csv: the record's id is "aml-<line>" */
    int32_t step;
    int64_t ts_ms;        /* set by fw_amlsim_finish */
    double value;
} fw_amlsim_txn;

typedef struct fw_amlsim_data fw_amlsim_data;

/** A CSV line that was skipped: @p file, 1-based @p line and why. */
typedef void (*fw_amlsim_bad_fn)(void *opaque, const char *file, uint64_t line,
                                 const char *reason);

/** @brief An empty data set named @p name, read from @p source. */
fw_amlsim_data *fw_amlsim_new(const char *name, const char *source);
void fw_amlsim_destroy(fw_amlsim_data *d);

/**
 * @brief Reads nodes.csv (`nodeid,isFraud,...`: columns found by header name,
 * any order, extra columns ignored; isFraud 0/1/true/false). Call before
 * fw_amlsim_parse_transactions. A malformed row or a duplicated id is
 * reported through @p bad (may be NULL) and skipped.
 * @returns FW_OK; FW_ERR_INVALID for a missing or incomplete header (named in
 *          @p errstr with @p file); FW_ERR_NOMEM; FW_ERR_LIMIT past 2^31 rows.
 */
fw_err fw_amlsim_parse_nodes(fw_amlsim_data *d, const char *csv, size_t n, const char *file,
                             fw_amlsim_bad_fn bad, void *opaque, char *errstr,
                             size_t errstr_size);

/**
 * @brief Reads transactions.csv (`sourceNodeId,targetNodeId,value,time`, by
 * header name). An account missing from nodes.csv is added, unlabelled
 * (counted as not fraud). Malformed rows go to @p bad and are skipped.
 * @returns as fw_amlsim_parse_nodes.
 */
fw_err fw_amlsim_parse_transactions(fw_amlsim_data *d, const char *csv, size_t n,
                                    const char *file, fw_amlsim_bad_fn bad, void *opaque,
                                    char *errstr, size_t errstr_size);

/** @brief Orders the transactions by (step, line) and gives each an event
 *  time: step s starts at FW_AMLSIM_EPOCH_MS + (s - 1) days and its k-th row
 *  of c lands k * (1 day / c) into it, so file order within a day is kept. */
void fw_amlsim_finish(fw_amlsim_data *d);

const char *fw_amlsim_name(const fw_amlsim_data *d);
const char *fw_amlsim_source(const fw_amlsim_data *d);
uint32_t fw_amlsim_naccounts(const fw_amlsim_data *d);
/** Accounts listed in nodes.csv (the rest only appear in transactions.csv). */
uint32_t fw_amlsim_nlabelled(const fw_amlsim_data *d);
fw_str fw_amlsim_account_id(const fw_amlsim_data *d, uint32_t account);
/** One byte per account: 1 = isFraud. */
const uint8_t *fw_amlsim_fraud(const fw_amlsim_data *d);
uint32_t fw_amlsim_nfraud(const fw_amlsim_data *d);
/** @brief Account index of @p id, or UINT32_MAX. */
uint32_t fw_amlsim_find_account(const fw_amlsim_data *d, fw_str id);
uint32_t fw_amlsim_ntxn(const fw_amlsim_data *d);
const fw_amlsim_txn *fw_amlsim_txns(const fw_amlsim_data *d);
/** @brief Transaction index of record id "aml-<line>", or UINT32_MAX. */
uint32_t fw_amlsim_find_txn(const fw_amlsim_data *d, fw_str transaction_id);
/** Rows skipped in nodes.csv and transactions.csv. */
uint64_t fw_amlsim_bad_lines(const fw_amlsim_data *d);

/** @brief Appends transaction @p i as one JSON record (no newline):
 *  {"transaction_id":"aml-<line>","timestamp":...,"account_id":"<src>",
 *   "customer_id":"<src>","counterparty_id":"<dst>","type":"TRANSFER","amount":<value>}. */
bool fw_amlsim_write_record(const fw_amlsim_data *d, uint32_t i, fw_buf *out);

/**
 * @brief Loads every data set at @p path: a .tgz (or .tar) archive, a folder
 * holding transactions.csv and nodes.csv, or a folder of such archives and
 * folders (in name order). Inside an archive, each folder holding both files
 * is one data set. Each set comes back finished (fw_amlsim_finish).
 * @param sets   *sets receives a new array of *nsets pointers (free each with
 *               fw_amlsim_destroy, then the array with free()).
 * @returns FW_OK; FW_ERR_IO when a file cannot be read; FW_ERR_INVALID for a
 *          corrupt archive or CSV header, or nothing to read; errstr names the path.
 */
fw_err fw_amlsim_load(const char *path, fw_amlsim_data ***sets, size_t *nsets,
                      fw_amlsim_bad_fn bad, void *opaque, char *errstr, size_t errstr_size);

#endif
