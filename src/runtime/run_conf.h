/* run_conf.h — configuration of `fraudwatch run`, in file and Kafka mode.
 * Filled from defaults, then the environment (FW_ names and the seeds'),
 * then flags, all from the options table in src/tools/run.c. */
#ifndef FW_RUN_CONF_H
#define FW_RUN_CONF_H

#include "kafka_conf.h"
#include "pipeline.h"
#include "scorer.h"

#define FW_RUN_MAX_COLOCATED 8

/* The partitioners of librdkafka and of Kafka's Java client, in the order
 * of --input-partitioner's choices. */
typedef enum fw_partitioner {
    FW_PARTITIONER_CONSISTENT_RANDOM = 0, /* librdkafka's default: CRC32 of the key */
    FW_PARTITIONER_MURMUR2_RANDOM,        /* the Java client's default */
    FW_PARTITIONER_FNV1A_RANDOM,          /* Sarama's (Go) default */
    FW_PARTITIONER_CONSISTENT,
    FW_PARTITIONER_MURMUR2,
    FW_PARTITIONER_FNV1A,
} fw_partitioner;

#define FW_PARTITIONER_CHOICES \
    "consistent_random|murmur2_random|fnv1a_random|consistent|murmur2|fnv1a"

typedef struct fw_run_conf {
    fw_pipeline_conf pipeline;     /* rules, input format, record size limit */
    const char *rules_file;        /* applied over the defaults; NULL: defaults */
    char env_note[256];            /* how an ambiguous environment value was taken (logged
                                      at start); "" when none */
    const char *profiles_file;     /* NDJSON customer profiles; NULL: none */
    const char *schema_file;       /* mapping of another team's spelling; NULL: ours */
    struct fw_lang_rules *lang;    /* the rules file's language rules (fw_run_conf_parse),
                                      or NULL; owned here, freed by fw_cmd_run;
                                      pipeline.lang points at it */
    struct fw_schema *schema;      /* loaded from it by fw_run_conf_parse; owned here,
                                      freed by fw_cmd_run; pipeline.schema points at it */
    const char *profiles_topic;    /* compacted profiles topic ("" = none), Kafka mode */
    const char *rules_topic;       /* compacted rules control topic ("" = none), Kafka mode */
    const char *rules_status_topic; /* verdicts on rule changes ("" = none), Kafka mode */
    const char *lists_file;        /* named lists {"name": ["v", ...]}; NULL: none; Kafka
                                      mode reloads it on SIGHUP */
    const char *lists_topic;       /* compacted lists topic ("" = none), Kafka mode */
    /* File mode (selected by input_file). */
    const char *input_file;
    const char *output_file;       /* "-" = stdout */
    const char *dlq_file;          /* NULL: dead letters reported on stderr */
    const char *late_file;         /* NULL: late records only counted */
    /* Kafka mode. */
    fw_kafka_opts kafka;
    const char *input_topic;
    const char *output_topic;
    const char *dlq_topic;
    const char *late_topic;
    const char *changelog_topic;   /* NULL: "<group>-state-changelog" */
    char changelog_name[300];
    int idle_timeout_ms;           /* a partition silent this long advances its watermark */
    const char *group_id;
    char instance_id[128];         /* stable per instance: names the transactional id */
    /* Fields every value of which belongs to one account (--colocated):
     * rules grouped by them need no repartition topic. NULL-terminated;
     * point into colocated_buf. */
    const char *colocated[FW_RUN_MAX_COLOCATED + 1];
    char colocated_buf[256];
    /* How the input's producers chose a keyed record's partition
     * (--input-partitioner): a record whose account lives on another
     * partition is sent there (the repartition by account). */
    int input_partitioner;         /* fw_partitioner */
    int partitions;                /* for topics fraudwatch creates */
    int replication_factor;
    int commit_interval_ms;
    int session_timeout_ms;        /* group session: a killed member's partitions move
                                      after this long */
    int heartbeat_interval_ms;     /* 0: a third of session_timeout_ms */
    bool static_membership;        /* group.instance.id = fraudwatch-GROUP-INSTANCE (off:
                                      see --static-membership in run.c) */
    bool offset_reset_latest;      /* new group starts at the end instead of the beginning */
    bool exit_at_end;              /* stop once every assigned partition is at its end */
    int test_abort_every;          /* tests: abort every Nth transaction instead of
                                      committing it (0: never) */
    int stats_interval_s;          /* progress line on stderr; 0 = off */
    uint64_t max_memory;           /* resident bytes above which no new key of state is
                                      made (memlimit.h); 0 = none */
    int metrics_port;              /* Prometheus /metrics and /health (metrics.h); 0 = off */
    int64_t health_timeout_ms;     /* /health: 503 once the loop is still this long (Kafka) */
    const char *metrics_bind;      /* address they listen on */
    fw_scorer_conf scorer;         /* ml_score: MODEL_PATH or API_ENDPOINT_URL */
    bool quiet;
    bool progress;                 /* file mode: progress lines off a terminal too (--progress) */
} fw_run_conf;

/** @brief Defaults only; fw_run_conf_parse applies the environment. */
void fw_run_conf_init(fw_run_conf *c);

/**
 * @brief Applies the environment, then `run`'s flags, over what init set;
 * then the rules file and schema, and flags that win over the rules file
 * again. argv[0] is "run".
 * @returns FW_OK; FW_ERR_INVALID with @p errstr naming the option;
 *          FW_ERR_NOT_FOUND when --help was asked (help already printed).
 */
fw_err fw_run_conf_parse(fw_run_conf *c, int argc, char **argv, char *errstr,
                         size_t errstr_size);

#endif
