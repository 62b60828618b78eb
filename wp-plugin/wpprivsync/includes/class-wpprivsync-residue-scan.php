<?php
/**
 * The residue scan: proof of erasure. Looks through every table of the WordPress database
 * (found through information_schema, every text-like column, serialized and JSON values
 * included) for a person's email in any letter case, URL-encoded, and as the md5 and sha256
 * hex digests Gravatar and Thrive store, and reports each place without its value: table,
 * column, row key and kind. What the policy keeps on purpose (orders under retention,
 * WordPress's own request record during its evidence period) is reported as retained, with
 * its end date and the policy clause.
 *
 * How it reads: the database keeps only the rows that could hold any email or digest (an "@",
 * a "%40" or a run of 32 hex digits, one test per column, whatever the number of people), and
 * PHP takes the emails and hex runs out of those values and looks each up in the set of what
 * is searched for. So one pass costs about the same for 1 person as for 25, and an email only
 * matches as a whole ("ann@example.com" is not found inside "joann@example.com").
 *
 * The scan runs in bounded pages: each call scans for a time budget and returns an opaque
 * cursor; the daemon keeps the cursor, so a scan interrupted by a restart resumes.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The scan route and the latest scan of each person, for the admin page.
 */
class Wpprivsync_Residue_Scan {

	/** Option holding the latest scan per person (plugin-keyed hash), without values. */
	const OPTION = 'wpprivsync_residue_scans';

	/** People kept in that option. */
	const KEEP = 200;

	/** Locations kept per person in that option. */
	const KEEP_ITEMS = 50;

	/** Most emails one scan covers. */
	const MAX_EMAILS = 200;

	/** Rows read per query on a table with an integer key. */
	const PAGE_ROWS = 5000;

	/** Candidate rows read per query on a table without an integer key (paged by offset). */
	const PAGE_HITS = 2000;

	/** An email inside a value (lower-cased first; bytes above 0x7f for international ones). */
	const EMAIL_TOKEN = '/[a-z0-9\x80-\xff!#$&\'*+\/=?^_`{|}~.-]+@[a-z0-9\x80-\xff-]+(?:\.[a-z0-9\x80-\xff-]+)+/';

	/** A run of hex digits as long as an md5 or longer. */
	const HEX_TOKEN = '/[0-9a-f]{32,}/';

	/** Column types whose values are text. */
	const TEXT_TYPES = array( 'char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json' );

	/** Column types read as text after conversion. */
	const BINARY_TYPES = array( 'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob' );

	/** Integer column types (keys that can be paged by range). */
	const INT_TYPES = array( 'tinyint', 'smallint', 'mediumint', 'int', 'bigint' );

	/** Post types of WooCommerce orders in posts storage (and HPOS placeholders). */
	const ORDER_POST_TYPES = array( 'shop_order', 'shop_order_refund', 'shop_order_placehold' );

	/**
	 * Columns read besides the text ones, to tell retained rows from residues (table without
	 * the prefix => columns).
	 */
	const CONTEXT = array(
		'posts'                      => array( 'ID', 'post_type', 'post_parent' ),
		'postmeta'                   => array( 'post_id' ),
		'comments'                   => array( 'comment_post_ID', 'comment_type' ),
		'wc_orders'                  => array( 'id', 'type', 'parent_order_id' ),
		'wc_order_addresses'         => array( 'order_id' ),
		'wc_orders_meta'             => array( 'order_id' ),
		'wc_order_operational_data'  => array( 'order_id' ),
		'woocommerce_order_items'    => array( 'order_id' ),
		'woocommerce_order_itemmeta' => array( 'order_item_id' ),
		'wpprivsync_outbox'          => array( 'acked_at' ),
	);

	/**
	 * Hooks the route in.
	 */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'register_routes' ) );
	}

	/**
	 * POST /wpprivsync/v1/scan.
	 */
	public static function register_routes() {
		register_rest_route(
			Wpprivsync_Plugin::REST_NAMESPACE,
			'/scan',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'scan_route' ),
				'permission_callback' => array( 'Wpprivsync_Rest', 'can_sync' ),
				'args'                => array(
					'emails'        => array(
						'type'              => 'array',
						'required'          => true,
						'minItems'          => 1,
						'maxItems'          => self::MAX_EMAILS,
						'items'             => array(
							'type'      => 'string',
							'maxLength' => 254,
						),
						'validate_callback' => array( 'Wpprivsync_Rest', 'validate_emails' ),
						'sanitize_callback' => array( 'Wpprivsync_Rest', 'sanitize_emails' ),
					),
					'cursor'        => array(
						'type'      => 'string',
						'default'   => '',
						'maxLength' => 1024,
					),
					'evidence_days' => array(
						'type'    => 'integer',
						'minimum' => 0,
						'maximum' => 3650,
						'default' => 30,
					),
					// 0 ends a page after each part (a table, or PAGE_ROWS rows of one).
					'budget_ms'     => array(
						'type'    => 'integer',
						'minimum' => 0,
						'maximum' => 20000,
						'default' => 2000,
					),
					'hashes'        => array(
						'description' => __( "The daemon's keyed hash of each email, in the same order: the admin page finds the latest scan by it.", 'wpprivsync' ),
						'type'        => 'array',
						'default'     => array(),
						'maxItems'    => self::MAX_EMAILS,
						'items'       => array(
							'type'    => 'string',
							'pattern' => '^[0-9a-f]{64}$',
						),
					),
				),
			)
		);
	}

	/**
	 * The route: one bounded page of the scan.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function scan_route( WP_REST_Request $request ) {
		$cursor = self::decode_cursor( (string) $request['cursor'] );
		if ( is_wp_error( $cursor ) ) {
			return $cursor;
		}
		$emails = array_values( (array) $request['emails'] );
		$hashes = array_values( (array) $request['hashes'] );
		$page   = self::scan( $emails, $cursor, (int) $request['evidence_days'], (int) $request['budget_ms'] / 1000 );
		self::remember( $emails, count( $hashes ) === count( $emails ) ? $hashes : array(), '' === (string) $request['cursor'], $page );
		return rest_ensure_response( $page );
	}

	/**
	 * Scans from $cursor for about $budget_s seconds.
	 *
	 * @param string[] $emails        Normalised emails.
	 * @param array    $cursor        Where to start: array( 't' => table, 'k' => last key ) or empty.
	 * @param int      $evidence_days Days a completed request record is kept (the policy's).
	 * @param float    $budget_s      Seconds to scan before returning a cursor.
	 * @return array The page: done, cursor, found, unscanned, rows_scanned, tables_scanned.
	 */
	public static function scan( array $emails, array $cursor, $evidence_days, $budget_s ) {
		global $wpdb;
		$started  = microtime( true );
		$needles  = self::needles( $emails );
		$tables   = self::tables();
		$found    = array();
		$unscan   = array();
		$rows     = 0;
		$done_tbl = 0;
		$names    = array_keys( $tables );
		$index    = isset( $cursor['t'] ) ? array_search( $cursor['t'], $names, true ) : 0;
		$after    = isset( $cursor['k'] ) ? (string) $cursor['k'] : '';
		if ( false === $index ) {
			// The cursor's table is gone: carry on with the next name after it.
			$index = 0;
			$count = count( $names );
			while ( $index < $count && strcmp( $names[ $index ], (string) $cursor['t'] ) < 0 ) {
				++$index;
			}
			$after = '';
		}
		$suppress = $wpdb->suppress_errors( true );
		try {
			for ( $n = count( $names ); $index < $n; ++$index ) {
				$name  = $names[ $index ];
				$table = $tables[ $name ];
				while ( true ) {
					$part = self::scan_part( $name, $table, $after );
					if ( isset( $part['error'] ) ) {
						$unscan[] = array(
							'table'  => $name,
							'reason' => $part['error'],
						);
						break;
					}
					$rows += $part['rows'];
					foreach ( $part['hits'] as $hit ) {
						foreach ( self::findings( $name, $table, $hit, $needles, $evidence_days ) as $finding ) {
							$found[] = $finding;
						}
					}
					$after = $part['next'];
					if ( null === $after ) {
						break;
					}
					if ( microtime( true ) - $started >= $budget_s ) {
						return self::page( false, $name, $after, $found, $unscan, $rows, $done_tbl );
					}
				}
				++$done_tbl;
				$after = '';
				if ( $index + 1 < $n && microtime( true ) - $started >= $budget_s ) {
					return self::page( false, $names[ $index + 1 ], '', $found, $unscan, $rows, $done_tbl );
				}
			}
		} finally {
			$wpdb->suppress_errors( $suppress );
		}
		return self::page( true, '', '', $found, $unscan, $rows, $done_tbl );
	}

	/**
	 * One page's answer.
	 *
	 * @param bool   $done     Whether the scan is complete.
	 * @param string $table    Table to resume at.
	 * @param string $after    Key to resume after.
	 * @param array  $found    Findings.
	 * @param array  $unscan   Tables that could not be read.
	 * @param int    $rows     Rows read.
	 * @param int    $done_tbl Tables finished.
	 * @return array
	 */
	private static function page( $done, $table, $after, array $found, array $unscan, $rows, $done_tbl ) {
		return array(
			'done'           => $done,
			'cursor'         => $done ? null : self::encode_cursor( $table, $after ),
			'found'          => $found,
			'unscanned'      => $unscan,
			'rows_scanned'   => $rows,
			'tables_scanned' => $done_tbl,
		);
	}

	/**
	 * What is looked for: each text (an email, URL-encoded or not, or a digest of one) =>
	 * the list of array( email index, kind ) it stands for.
	 *
	 * @param string[] $emails Normalised emails.
	 * @return array
	 */
	public static function needles( array $emails ) {
		$needles = array();
		foreach ( array_values( $emails ) as $i => $email ) {
			$lower                                 = strtolower( $email );
			$needles[ $lower ][]                   = array( $i, 'email' );
			$needles[ md5( $lower ) ][]            = array( $i, 'md5' );
			$needles[ hash( 'sha256', $lower ) ][] = array( $i, 'sha256' );
		}
		return $needles;
	}

	/**
	 * The emails and hex runs in a value, each with the kind it was found as.
	 *
	 * @param string $value A column's value.
	 * @return array text => kind ('email', 'email-urlencoded' or 'hex')
	 */
	private static function tokens( $value ) {
		$lower  = strtolower( $value );
		$tokens = array();
		if ( false !== strpos( $lower, '@' ) && preg_match_all( self::EMAIL_TOKEN, $lower, $m ) ) {
			foreach ( $m[0] as $token ) {
				foreach ( self::email_readings( $token ) as $email ) {
					$tokens[ $email ] = 'email';
				}
			}
		}
		if ( false !== strpos( $lower, '%40' ) && preg_match_all( self::EMAIL_TOKEN, rawurldecode( $lower ), $m ) ) {
			foreach ( $m[0] as $token ) {
				foreach ( self::email_readings( $token ) as $email ) {
					$tokens[ $email ] = $tokens[ $email ] ?? 'email-urlencoded';
				}
			}
		}
		if ( preg_match_all( self::HEX_TOKEN, $lower, $m ) ) {
			foreach ( $m[0] as $token ) {
				$tokens[ $token ] = $tokens[ $token ] ?? 'hex';
			}
		}
		return $tokens;
	}

	/**
	 * The emails a token may be: itself, and what follows each character that is allowed in an
	 * address but usually separates it from its surroundings ("?e=ann@example.com" holds
	 * "ann@example.com"). A dot does not separate: "jo.ann@example.com" is not "ann@...".
	 *
	 * @param string $token An email-shaped token.
	 * @return string[]
	 */
	private static function email_readings( $token ) {
		$out   = array( $token );
		$local = (string) substr( $token, 0, (int) strrpos( $token, '@' ) );
		$len   = strlen( $local );
		for ( $i = 0; $i < $len; ++$i ) {
			if ( false !== strpos( "=?/&|{}`'#!$*+^~", $local[ $i ] ) ) {
				$out[] = substr( $token, $i + 1 );
			}
		}
		return $out;
	}

	/**
	 * Every base table of the database with text-like columns, by name: its text columns
	 * (name => needs conversion), its key columns and whether the key is one integer.
	 *
	 * @return array
	 */
	public static function tables() {
		global $wpdb;
		$columns = $wpdb->get_results( "SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c, c.DATA_TYPE AS d FROM information_schema.COLUMNS c JOIN information_schema.TABLES s ON s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME WHERE c.TABLE_SCHEMA = DATABASE() AND s.TABLE_TYPE = 'BASE TABLE' ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION", ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- the schema itself is what is scanned.
		$keys    = $wpdb->get_results( "SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION", ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- as above.
		$tables  = array();
		$types   = array();
		foreach ( (array) $columns as $col ) {
			$name                             = $col['t'];
			$type                             = strtolower( $col['d'] );
			$types[ $name ][ $col['c'] ]      = $type;
			$tables[ $name ]['text']          = $tables[ $name ]['text'] ?? array();
			$tables[ $name ]['key']           = array();
			$tables[ $name ]['all_columns'][] = $col['c'];
			if ( in_array( $type, self::TEXT_TYPES, true ) ) {
				$tables[ $name ]['text'][ $col['c'] ] = false;
			} elseif ( in_array( $type, self::BINARY_TYPES, true ) ) {
				$tables[ $name ]['text'][ $col['c'] ] = true;
			}
		}
		foreach ( (array) $keys as $key ) {
			if ( isset( $tables[ $key['t'] ] ) ) {
				$tables[ $key['t'] ]['key'][] = $key['c'];
			}
		}
		foreach ( $tables as $name => $table ) {
			if ( empty( $table['text'] ) ) {
				unset( $tables[ $name ] );
				continue;
			}
			$key                        = $table['key'];
			$tables[ $name ]['int_key'] = 1 === count( $key ) && in_array( $types[ $name ][ $key[0] ], self::INT_TYPES, true );
			$short                      = self::unprefixed( $name );
			$context                    = isset( self::CONTEXT[ $short ] ) ? array_intersect( self::CONTEXT[ $short ], $table['all_columns'] ) : array();
			$tables[ $name ]['context'] = array_values( $context );
		}
		ksort( $tables, SORT_STRING );
		return $tables;
	}

	/**
	 * A table's name without the site's prefix (as in CONTEXT), or the name itself.
	 *
	 * @param string $name Table name.
	 * @return string
	 */
	private static function unprefixed( $name ) {
		global $wpdb;
		$prefix = $wpdb->prefix;
		return 0 === strpos( $name, $prefix ) ? substr( $name, strlen( $prefix ) ) : $name;
	}

	/**
	 * Reads one part of a table: rows after key $after up to PAGE_ROWS of them (an integer
	 * key), or the next PAGE_HITS candidates (any other key), keeping the candidates: rows
	 * with a value that holds an "@", a "%40" or 32 hex digits in a row.
	 *
	 * @param string $name  Table name (from information_schema).
	 * @param array  $table The table's description.
	 * @param string $after Last key read (an offset without an integer key), '' for the start.
	 * @return array array( rows, hits, next ) or array( error ).
	 */
	private static function scan_part( $name, array $table, $after ) {
		global $wpdb;
		$quoted = self::quote( $name );
		$tests  = array();
		foreach ( $table['text'] as $column => $binary ) {
			$col     = self::quote( $column );
			$col     = $binary ? "CONVERT({$col} USING utf8mb4)" : $col;
			$tests[] = "{$col} LIKE '%@%' OR {$col} LIKE '%\\%40%' OR {$col} REGEXP '[0-9a-fA-F]{32}'";
		}
		$match  = '(' . implode( ' OR ', $tests ) . ')';
		$select = array_unique( array_merge( $table['key'], $table['context'], array_keys( $table['text'] ) ) );
		$select = implode( ', ', array_map( array( __CLASS__, 'quote' ), $select ) );
		if ( ! $table['int_key'] ) {
			$offset = (int) $after;
			$hits   = $wpdb->get_results( $wpdb->prepare( "SELECT {$select} FROM {$quoted} WHERE {$match} LIMIT %d OFFSET %d", self::PAGE_HITS, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- names come from information_schema and are quoted; values are placeholders.
			if ( '' !== $wpdb->last_error ) {
				return array( 'error' => self::reason( $wpdb->last_error ) );
			}
			$more = count( (array) $hits ) === self::PAGE_HITS;
			return array(
				'rows' => $more ? 0 : (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$quoted}" ), // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- as above.
				'hits' => (array) $hits,
				'next' => $more ? (string) ( $offset + self::PAGE_HITS ) : null,
			);
		}
		$key   = self::quote( $table['key'][0] );
		$start = '' === $after ? '' : $wpdb->prepare( " AND {$key} > %d", (int) $after ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the key is quoted.
		$upper = $wpdb->get_var( $wpdb->prepare( "SELECT {$key} FROM {$quoted} WHERE 1 = 1{$start} ORDER BY {$key} LIMIT 1 OFFSET %d", self::PAGE_ROWS - 1 ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- as above.
		if ( '' !== $wpdb->last_error ) {
			return array( 'error' => self::reason( $wpdb->last_error ) );
		}
		$end  = null === $upper ? '' : $wpdb->prepare( " AND {$key} <= %d", (int) $upper ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- as above.
		$hits = $wpdb->get_results( "SELECT {$select} FROM {$quoted} WHERE 1 = 1{$start}{$end} AND {$match} ORDER BY {$key}", ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- as above.
		if ( '' !== $wpdb->last_error ) {
			return array( 'error' => self::reason( $wpdb->last_error ) );
		}
		return array(
			'rows' => null === $upper ? self::rows_after( $quoted, $key, $start ) : self::PAGE_ROWS,
			'hits' => (array) $hits,
			'next' => null === $upper ? null : (string) $upper,
		);
	}

	/**
	 * Rows in the last part of a table (fewer than a page).
	 *
	 * @param string $quoted Quoted table name.
	 * @param string $key    Quoted key column.
	 * @param string $start  The part's lower bound clause.
	 * @return int
	 */
	private static function rows_after( $quoted, $key, $start ) {
		global $wpdb;
		return (int) $wpdb->get_var( "SELECT COUNT({$key}) FROM {$quoted} WHERE 1 = 1{$start}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- names are quoted, the bound was prepared.
	}

	/**
	 * A database error as a reason, without any value it may quote.
	 *
	 * @param string $error The error text.
	 * @return string
	 */
	private static function reason( $error ) {
		$first = strtok( (string) $error, "'\"" );
		return 'could not read: ' . substr( trim( (string) $first ), 0, 120 );
	}

	/**
	 * Backquotes an identifier.
	 *
	 * @param string $name Identifier from information_schema.
	 * @return string
	 */
	public static function quote( $name ) {
		return '`' . str_replace( '`', '``', (string) $name ) . '`';
	}

	/**
	 * The findings in one candidate row: each column, email and kind that matched.
	 *
	 * @param string $name          Table name.
	 * @param array  $table         Its description.
	 * @param array  $row           The row.
	 * @param array  $needles       Needles (see needles()).
	 * @param int    $evidence_days Evidence period of request records.
	 * @return array
	 */
	private static function findings( $name, array $table, array $row, array $needles, $evidence_days ) {
		$out = array();
		$ret = null;
		$key = null;
		foreach ( array_keys( $table['text'] ) as $column ) {
			$value = isset( $row[ $column ] ) ? (string) $row[ $column ] : '';
			if ( '' === $value ) {
				continue;
			}
			foreach ( self::tokens( $value ) as $token => $found_as ) {
				if ( ! isset( $needles[ $token ] ) ) {
					continue;
				}
				$key = $key ?? self::row_key( $table, $row );
				$ret = $ret ?? self::retained( self::unprefixed( $name ), $row, $evidence_days );
				foreach ( $needles[ $token ] as $needle ) {
					$finding = array(
						'email'  => $needle[0],
						'table'  => $name,
						'column' => $column,
						'key'    => $key,
						'kind'   => 'email' === $needle[1] ? $found_as : $needle[1],
					);
					if ( $ret ) {
						$finding['retained'] = $ret;
					}
					$out[] = $finding;
				}
			}
		}
		return $out;
	}

	/**
	 * A row's key as text: the key's value, "a=1,b=2" for a composite key.
	 *
	 * @param array $table Table description.
	 * @param array $row   Row.
	 * @return string
	 */
	private static function row_key( array $table, array $row ) {
		if ( empty( $table['key'] ) ) {
			return '';
		}
		if ( 1 === count( $table['key'] ) ) {
			return (string) $row[ $table['key'][0] ];
		}
		$parts = array();
		foreach ( $table['key'] as $column ) {
			$parts[] = $column . '=' . $row[ $column ];
		}
		return implode( ',', $parts );
	}

	/**
	 * Whether the policy keeps a row on purpose: array( until, clause ) or null.
	 *
	 * @param string $short         Table name without the prefix.
	 * @param array  $row           The row (with its context columns).
	 * @param int    $evidence_days Evidence period of request records.
	 * @return array|null
	 */
	private static function retained( $short, array $row, $evidence_days ) {
		switch ( $short ) {
			case 'posts':
				return self::retained_post( (int) $row['ID'], (string) $row['post_type'], $evidence_days );
			case 'postmeta':
				$post_id = (int) $row['post_id'];
				return self::retained_post( $post_id, (string) get_post_type( $post_id ), $evidence_days );
			case 'comments':
				return 'order_note' === ( $row['comment_type'] ?? '' ) ? self::retained_order( (int) $row['comment_post_ID'] ) : null;
			case 'wc_orders':
				return self::retained_order( (int) $row['id'] );
			case 'wc_order_addresses':
			case 'wc_orders_meta':
			case 'wc_order_operational_data':
			case 'woocommerce_order_items':
				return self::retained_order( (int) $row['order_id'] );
			case 'woocommerce_order_itemmeta':
				return self::retained_order( (int) self::order_of_item( (int) $row['order_item_id'] ) );
			case 'wpprivsync_outbox':
				// An event the daemon has not taken yet; acknowledging it replaces the email with a keyed hash.
				return empty( $row['acked_at'] ) ? array(
					'until'  => gmdate( 'Y-m-d' ),
					'clause' => 'requests',
					'reason' => 'event waiting for the daemon',
				) : null;
		}
		return null;
	}

	/**
	 * A post kept on purpose: an order under retention, or a privacy request record in its
	 * evidence period.
	 *
	 * @param int    $post_id       Post id.
	 * @param string $post_type     Its type.
	 * @param int    $evidence_days Evidence period.
	 * @return array|null
	 */
	private static function retained_post( $post_id, $post_type, $evidence_days ) {
		if ( in_array( $post_type, self::ORDER_POST_TYPES, true ) ) {
			return self::retained_order( $post_id );
		}
		if ( 'user_request' !== $post_type ) {
			return null;
		}
		$completed = (int) get_post_meta( $post_id, '_wp_user_request_completed_timestamp', true );
		$from      = $completed > 0 ? $completed : time();
		$until     = gmdate( 'Y-m-d', $from + max( 0, (int) $evidence_days ) * DAY_IN_SECONDS );
		if ( $until < gmdate( 'Y-m-d' ) ) {
			return null; // The evidence period is over: the scrub should have removed it.
		}
		return array(
			'until'  => $until,
			'clause' => 'requests',
			'reason' => $completed > 0 ? 'privacy request record, kept as evidence' : 'privacy request record, request in progress',
		);
	}

	/**
	 * An order kept under the retention rule, or null (past its period, or not an order).
	 *
	 * @param int $order_id Order (or refund) id.
	 * @return array|null
	 */
	private static function retained_order( $order_id ) {
		if ( $order_id <= 0 || ! Wpprivsync_Plugin::woocommerce_active() ) {
			return null;
		}
		$order = wc_get_order( $order_id );
		if ( $order && 'shop_order_refund' === $order->get_type() ) {
			$order = wc_get_order( $order->get_parent_id() );
		}
		if ( ! $order || ! is_a( $order, 'WC_Order' ) ) {
			return null;
		}
		$until = Wpprivsync_Retention::order_until( $order );
		if ( null === $until || $until < gmdate( 'Y-m-d' ) ) {
			return null;
		}
		return array(
			'until'  => $until,
			'clause' => 'orders',
			'reason' => 'order kept for the tax authorities',
		);
	}

	/**
	 * The order an order item belongs to.
	 *
	 * @param int $item_id Order item id.
	 * @return int
	 */
	private static function order_of_item( $item_id ) {
		global $wpdb;
		return (int) $wpdb->get_var( $wpdb->prepare( "SELECT order_id FROM {$wpdb->prefix}woocommerce_order_items WHERE order_item_id = %d", $item_id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- one key lookup.
	}

	/**
	 * The cursor as opaque text.
	 *
	 * @param string $table Table to resume at.
	 * @param string $after Key to resume after.
	 * @return string
	 */
	private static function encode_cursor( $table, $after ) {
		$parts = array(
			't' => $table,
			'k' => $after,
		);
		return base64_encode( wp_json_encode( $parts ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- an opaque cursor, not obfuscation.
	}

	/**
	 * The cursor's parts, or an error for a cursor this route did not make.
	 *
	 * @param string $text Cursor.
	 * @return array|WP_Error
	 */
	private static function decode_cursor( $text ) {
		if ( '' === $text ) {
			return array();
		}
		$data = json_decode( (string) base64_decode( $text, true ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- as above.
		if ( ! is_array( $data ) || ! isset( $data['t'], $data['k'] ) || ! is_string( $data['t'] ) || ! preg_match( '/^\d*$/', (string) $data['k'] ) ) {
			return new WP_Error( 'rest_invalid_param', __( 'cursor is not one this route returned.', 'wpprivsync' ), array( 'status' => 400 ) );
		}
		return $data;
	}

	/**
	 * Keeps each person's latest scan (locations without values) for the admin page.
	 *
	 * @param string[] $emails The scan's emails.
	 * @param string[] $hashes The daemon's keyed hash of each (or none: the plugin's own then).
	 * @param bool     $fresh  Whether this page started the scan.
	 * @param array    $page   The page.
	 */
	private static function remember( array $emails, array $hashes, $fresh, array $page ) {
		$scans = get_option( self::OPTION, array() );
		$scans = is_array( $scans ) ? $scans : array();
		foreach ( $emails as $i => $email ) {
			$hash = $hashes[ $i ] ?? Wpprivsync_Plugin::email_hash( $email );
			if ( $fresh || ! isset( $scans[ $hash ] ) ) {
				$scans[ $hash ] = array(
					'started_at' => gmdate( 'c' ),
					'scanned_at' => null,
					'open'       => 0,
					'retained'   => 0,
					'unscanned'  => array(),
					'items'      => array(),
				);
			}
			$entry = $scans[ $hash ];
			foreach ( $page['found'] as $finding ) {
				if ( $finding['email'] !== $i ) {
					continue;
				}
				$item = array_diff_key( $finding, array( 'email' => 1 ) );
				if ( isset( $finding['retained'] ) ) {
					++$entry['retained'];
				} else {
					++$entry['open'];
				}
				if ( count( $entry['items'] ) < self::KEEP_ITEMS ) {
					$entry['items'][] = $item;
				}
			}
			foreach ( $page['unscanned'] as $table ) {
				$entry['unscanned'][] = $table['table'];
			}
			if ( $page['done'] ) {
				$entry['scanned_at'] = gmdate( 'c' );
			}
			unset( $scans[ $hash ] );
			$scans[ $hash ] = $entry; // The newest last.
		}
		update_option( self::OPTION, array_slice( $scans, -self::KEEP, null, true ), false );
	}

	/**
	 * The latest scan of a person, or null.
	 *
	 * @param string $email_hash The daemon's keyed hash of the email (as the audit and the
	 *                           requests mirror have it); the plugin's own for a scan the daemon
	 *                           did not name.
	 * @return array|null Keys scanned_at (null while running), started_at, open, retained, unscanned, items.
	 */
	public static function latest_for_hash( $email_hash ) {
		$scans = get_option( self::OPTION, array() );
		return is_array( $scans ) && isset( $scans[ $email_hash ] ) ? $scans[ $email_hash ] : null;
	}

	/**
	 * People whose latest scan is kept.
	 *
	 * @return int
	 */
	public static function scanned_count() {
		$scans = get_option( self::OPTION, array() );
		return is_array( $scans ) ? count( $scans ) : 0;
	}

	/**
	 * Residues (not retained) found by the latest scans, over everyone.
	 *
	 * @return int
	 */
	public static function open_count() {
		$scans = get_option( self::OPTION, array() );
		$open  = 0;
		foreach ( is_array( $scans ) ? $scans : array() as $entry ) {
			$open += (int) ( $entry['open'] ?? 0 );
		}
		return $open;
	}
}
