-- Agents of a codebase with ports, GPU code and GPU use (asset agent_inventory).
CREATE TABLE symphony.agent_inventory (
    codebase              text NOT NULL,
    date                  date NOT NULL,
    path                  text NOT NULL,
    why                   text NOT NULL,
    machine               text NOT NULL,
    ports                 text,
    port_count            bigint NOT NULL,
    gpu_sites             bigint NOT NULL,
    gpu_site_lines        text,
    last_modified         timestamp with time zone,
    gpu_seen              boolean NOT NULL,
    gpu_pids              text,
    gpu_peak_memory_bytes bigint,
    gpu_peak_sm_util      double precision
);
CREATE INDEX agent_inventory_partition ON symphony.agent_inventory (codebase, date);
