-- the view
CREATE OR REPLACE TEMPORARY VIEW `t_force_majeure` AS SELECT `notice_id` AS `notice_id`, `region` AS `region`, CAST(NULLIF(`starts_on`, '') AS DATE) AS `starts_on`, CAST(NULLIF(`ends_on`, '') AS DATE) AS `ends_on`, `indicators` AS `indicators` FROM `raw_force_majeure`;

-- the view of a table the dataset does not hold
CREATE OR REPLACE TEMPORARY VIEW `t_force_majeure` AS SELECT CAST(NULL AS STRING) AS `notice_id`, CAST(NULL AS STRING) AS `region`, CAST(NULL AS DATE) AS `starts_on`, CAST(NULL AS DATE) AS `ends_on`, CAST(NULL AS STRING) AS `indicators` WHERE FALSE;

-- the quick pass: the rows, and those failing each check
SELECT COUNT(*), SUM(CASE WHEN (`r`.`notice_id` IS NULL OR `r`.`notice_id` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (`r`.`region` IS NULL OR `r`.`region` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (`r`.`starts_on` IS NULL OR `r`.`starts_on` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (NOT (`r`.`starts_on` IS NULL OR `r`.`starts_on` = '') AND TRY_CAST(`r`.`starts_on` AS DATE) IS NULL) THEN 1 ELSE 0 END), SUM(CASE WHEN (NOT YEAR(TRY_CAST(`r`.`starts_on` AS TIMESTAMP_LTZ)) BETWEEN 1970 AND 2199) THEN 1 ELSE 0 END), SUM(CASE WHEN (`r`.`ends_on` IS NULL OR `r`.`ends_on` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (NOT (`r`.`ends_on` IS NULL OR `r`.`ends_on` = '') AND TRY_CAST(`r`.`ends_on` AS DATE) IS NULL) THEN 1 ELSE 0 END), SUM(CASE WHEN (NOT YEAR(TRY_CAST(`r`.`ends_on` AS TIMESTAMP_LTZ)) BETWEEN 1970 AND 2199) THEN 1 ELSE 0 END), SUM(CASE WHEN (`r`.`indicators` IS NULL OR `r`.`indicators` = '') THEN 1 ELSE 0 END) FROM `raw_force_majeure` AS `r`;

-- the keys held more than once
SELECT CAST(`notice_id` AS STRING) AS `k` FROM `raw_force_majeure` WHERE NOT `notice_id` IS NULL GROUP BY `notice_id` HAVING COUNT(*) > 1;

