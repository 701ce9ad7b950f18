-- the view
CREATE OR REPLACE TEMPORARY VIEW `t_shops` AS SELECT `shop_id` AS `shop_id`, `name` AS `name`, `main_category` AS `main_category`, `platform` AS `platform` FROM `raw_shops`;

-- the view of a table the dataset does not hold
CREATE OR REPLACE TEMPORARY VIEW `t_shops` AS SELECT CAST(NULL AS STRING) AS `shop_id`, CAST(NULL AS STRING) AS `name`, CAST(NULL AS STRING) AS `main_category`, CAST(NULL AS STRING) AS `platform` WHERE FALSE;

-- the quick pass: the rows, and those failing each check
SELECT COUNT(*), SUM(CASE WHEN (`r`.`shop_id` IS NULL OR `r`.`shop_id` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (`r`.`main_category` IS NULL OR `r`.`main_category` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (`r`.`platform` IS NULL OR `r`.`platform` = '') THEN 1 ELSE 0 END), SUM(CASE WHEN (NOT (`r`.`platform` IS NULL OR `r`.`platform` = '') AND NOT CAST(`r`.`platform` AS STRING) IN ('taobao', 'tmall', 'tejia')) THEN 1 ELSE 0 END) FROM `raw_shops` AS `r`;

-- the keys held more than once
SELECT CAST(`shop_id` AS STRING) AS `k` FROM `raw_shops` WHERE NOT `shop_id` IS NULL GROUP BY `shop_id` HAVING COUNT(*) > 1;

