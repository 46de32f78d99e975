-- bench/match-floor.sql - the floor for `schakel match --as-of 2026-11-01`:
-- the four rules of matching.md as plain SQL in the sqlite3 shell, on the
-- same database, with the benchmark's configuration (window_days 365,
-- m2_per_person 12, min_gap 2, min_persons 4, GEEN_VERGUNNING for 1783).
-- It computes what the matcher decides, and counts it; it gathers no
-- evidence, computes no signal ids, routes nothing and writes no signal or
-- log rows.  Its counts per rule must equal the signals schakel raises on a
-- fresh copy (bench/run.sh checks this).
--
-- Run: sqlite3 COPY-OF-schakel.db < bench/match-floor.sql

-- current registrations: each person's latest registration not after D
CREATE TEMP TABLE cur AS
	SELECT pseudonym, addr, max(begindatum) AS begindatum FROM person
	WHERE begindatum <= '2026-11-01' GROUP BY pseudonym;
CREATE INDEX temp.cur_addr ON cur(addr);
CREATE INDEX temp.cur_pseudonym ON cur(pseudonym);

-- municipalities that deliver BRP data (covered), read off the index
CREATE TEMP TABLE covered AS SELECT DISTINCT gemeentecode FROM person;

-- registered(A) and observed(A)
CREATE TEMP TABLE reg(addr TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
INSERT INTO reg SELECT addr, count(*) FROM cur GROUP BY addr;
CREATE TEMP TABLE obs(addr TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
INSERT INTO obs SELECT addr, max(aangetroffen) FROM finding
	WHERE soort = 'huisvesting' AND datum > '2025-11-01' AND datum <= '2026-11-01'
	GROUP BY addr;

-- the facts of every candidate address (registered or observed)
CREATE TEMP TABLE facts AS
WITH cand AS (SELECT addr FROM reg UNION SELECT addr FROM obs)
SELECT cand.addr,
       coalesce(d.gemeentecode, a.gemeentecode) AS gemeente,
       coalesce(reg.n, 0) AS registered,
       coalesce(obs.n, 0) AS observed,
       d.oppervlakte, d.max_bewoners,
       coalesce(d.vergunning <> '' AND d.vergunning_tot >= '2026-11-01', 0) AS permit,
       coalesce(d.gemeentecode, a.gemeentecode) IN (SELECT gemeentecode FROM covered) AS covered
FROM cand JOIN address a ON a.addr = cand.addr
LEFT JOIN reg ON reg.addr = cand.addr
LEFT JOIN obs ON obs.addr = cand.addr
LEFT JOIN dwelling d ON d.addr = cand.addr;

SELECT 'addresses', count(*) FROM facts;
SELECT 'OVERBEWONING', count(*) FROM facts
	WHERE max(registered, observed) >= 1
	  AND ((oppervlakte IS NOT NULL AND max(registered, observed) > oppervlakte / 12)
	       OR (max_bewoners IS NOT NULL AND max(registered, observed) > max_bewoners));
SELECT 'ONDERREGISTRATIE', count(*) FROM facts WHERE covered AND observed - registered >= 2;
SELECT 'GEEN_VERGUNNING', count(*) FROM facts
	WHERE gemeente IN ('1783') AND observed >= 4 AND NOT permit;
SELECT 'ADRES_AFWIJKING', count(*) FROM (
	SELECT DISTINCT f.addr, fp.pseudonym FROM finding f
	JOIN finding_person fp ON fp.finding_id = f.id
	JOIN cur c ON c.pseudonym = fp.pseudonym
	WHERE f.soort = 'huisvesting' AND f.datum > '2025-11-01' AND f.datum <= '2026-11-01'
	  AND c.addr <> f.addr);
