<?php
/**
 * The plugin's copy of the daemon's requests, for the admin page's list, dashboard and person
 * page: the daemon upserts changed requests in pages of up to 500 (POST /requests/mirror, after
 * each heartbeat); the page reads it with indexed SQL and LIMIT/OFFSET, never the daemon or any
 * remote system. Keyed hashes only, never an email.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The {prefix}wpprivsync_requests table.
 */
class Wpprivsync_Requests_Mirror {

	/** Most requests one POST /requests/mirror takes. */
	const PAGE_MAX = 500;

	/** Columns the list may sort by => SQL column. */
	const SORTABLE = array(
		'id'          => 'id',
		'received_at' => 'received_at',
		'due_at'      => 'due_at',
		'status'      => 'status',
		'action'      => 'action',
	);

	/**
	 * The table's name.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'wpprivsync_requests';
	}

	/**
	 * The CREATE TABLE statement for dbDelta.
	 *
	 * @param string $charset Charset clause.
	 * @return string
	 */
	public static function schema_sql( $charset ) {
		$table = self::table();
		return "CREATE TABLE {$table} (
  id bigint(20) unsigned NOT NULL,
  action varchar(32) NOT NULL,
  status varchar(16) NOT NULL,
  source varchar(64) NOT NULL DEFAULT '',
  email_hash varchar(128) DEFAULT NULL,
  received_at datetime NOT NULL,
  due_at datetime NOT NULL,
  completed_at datetime DEFAULT NULL,
  systems varchar(1000) NOT NULL DEFAULT '',
  retained_until date DEFAULT NULL,
  export_url varchar(500) DEFAULT NULL,
  tasks_open int(11) NOT NULL DEFAULT 0,
  tasks text,
  updated_at datetime NOT NULL,
  PRIMARY KEY  (id),
  KEY received (received_at,id),
  KEY due (due_at,id),
  KEY status_due (status,due_at),
  KEY action_received (action,received_at),
  KEY source (source),
  KEY email_hash (email_hash)
) {$charset};";
	}

	/**
	 * Registers POST /requests/mirror.
	 */
	public static function register_routes() {
		register_rest_route(
			Wpprivsync_Plugin::REST_NAMESPACE,
			'/requests/mirror',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'rest_upsert' ),
				'permission_callback' => array( 'Wpprivsync_Rest', 'can_sync' ),
				'args'                => array(
					'requests' => array(
						'type'     => 'array',
						'required' => true,
						'minItems' => 1,
						'maxItems' => self::PAGE_MAX,
						'items'    => array(
							'type'       => 'object',
							'required'   => array( 'id', 'action', 'status', 'received_at', 'due_at' ),
							'properties' => array(
								'id'             => array(
									'type'    => 'integer',
									'minimum' => 1,
								),
								'action'         => array(
									'type'      => 'string',
									'maxLength' => 32,
								),
								'status'         => array(
									'type'      => 'string',
									'maxLength' => 16,
								),
								'source'         => array(
									'type'      => array( 'string', 'null' ),
									'maxLength' => 64,
								),
								'email_hash'     => array(
									'type'    => array( 'string', 'null' ),
									'pattern' => '^[0-9a-fA-F]{16,128}$',
								),
								'received_at'    => array( 'type' => 'string' ),
								'due_at'         => array( 'type' => 'string' ),
								'completed_at'   => array( 'type' => array( 'string', 'null' ) ),
								'systems'        => array(
									'type'                 => 'object',
									'additionalProperties' => array(
										'type'      => 'string',
										'maxLength' => 32,
									),
								),
								'retained_until' => array( 'type' => array( 'string', 'null' ) ),
								'export_url'     => array(
									'type'      => array( 'string', 'null' ),
									'maxLength' => 500,
								),
								'tasks'          => array(
									'type'     => 'array',
									'maxItems' => 50,
									'items'    => array( 'type' => 'object' ),
								),
							),
						),
					),
				),
			)
		);
	}

	/**
	 * A time the daemon sent (ISO 8601) as a UTC MySQL datetime, or null.
	 *
	 * @param mixed $iso Time.
	 * @return string|null
	 */
	private static function sql_time( $iso ) {
		$ts = is_string( $iso ) && '' !== $iso ? strtotime( $iso ) : false;
		return false === $ts ? null : gmdate( 'Y-m-d H:i:s', $ts );
	}

	/**
	 * POST /requests/mirror: upserts the rows; a row with a bad date is refused as a whole page
	 * (400, nothing stored).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function rest_upsert( WP_REST_Request $request ) {
		$rows = array();
		foreach ( (array) $request['requests'] as $i => $row ) {
			$received = self::sql_time( $row['received_at'] );
			$due      = self::sql_time( $row['due_at'] );
			if ( null === $received || null === $due ) {
				/* translators: %d: position in the list. */
				return new WP_Error( 'rest_invalid_param', sprintf( __( 'requests[%d] has a received_at or due_at that is not a time.', 'wpprivsync' ), $i ), array( 'status' => 400 ) );
			}
			$systems = array();
			foreach ( (array) ( $row['systems'] ?? array() ) as $system => $state ) {
				$systems[ sanitize_key( (string) $system ) ] = sanitize_key( (string) $state );
			}
			$tasks = array();
			foreach ( (array) ( $row['tasks'] ?? array() ) as $task ) {
				$tasks[] = array(
					'id'      => (int) ( $task['id'] ?? 0 ),
					'system'  => sanitize_text_field( (string) ( $task['system'] ?? '' ) ),
					'what'    => sanitize_text_field( (string) ( $task['what'] ?? '' ) ),
					'due_at'  => sanitize_text_field( (string) ( $task['due_at'] ?? '' ) ),
					'overdue' => ! empty( $task['overdue'] ),
				);
			}
			$until  = isset( $row['retained_until'] ) && is_string( $row['retained_until'] ) && preg_match( '/^\d{4}-\d{2}-\d{2}/', $row['retained_until'] ) ? substr( $row['retained_until'], 0, 10 ) : null;
			$rows[] = array(
				'id'             => (int) $row['id'],
				'action'         => sanitize_key( (string) $row['action'] ),
				'status'         => sanitize_key( (string) $row['status'] ),
				'source'         => sanitize_text_field( (string) ( $row['source'] ?? '' ) ),
				'email_hash'     => isset( $row['email_hash'] ) ? strtolower( (string) $row['email_hash'] ) : null,
				'received_at'    => $received,
				'due_at'         => $due,
				'completed_at'   => self::sql_time( $row['completed_at'] ?? null ),
				'systems'        => (string) wp_json_encode( $systems ),
				'retained_until' => $until,
				'export_url'     => empty( $row['export_url'] ) ? null : esc_url_raw( (string) $row['export_url'] ),
				'tasks_open'     => count( $tasks ),
				'tasks'          => (string) wp_json_encode( $tasks ),
			);
		}
		return rest_ensure_response( array( 'stored' => self::upsert( $rows ) ) );
	}

	/**
	 * One INSERT ... ON DUPLICATE KEY UPDATE for the rows.
	 *
	 * @param array[] $rows Rows (columns as in the table).
	 * @return int Rows stored.
	 */
	public static function upsert( array $rows ) {
		global $wpdb;
		if ( ! $rows ) {
			return 0;
		}
		$table  = self::table();
		$now    = gmdate( 'Y-m-d H:i:s' );
		$values = array();
		foreach ( $rows as $r ) {
			// Nullable columns: NULL literal when absent, a placeholder otherwise.
			$parts = array( $wpdb->prepare( '%d, %s, %s, %s', $r['id'], $r['action'], $r['status'], $r['source'] ) );
			foreach ( array( 'email_hash', 'received_at', 'due_at', 'completed_at', 'systems', 'retained_until', 'export_url' ) as $col ) {
				$parts[] = null === $r[ $col ] ? 'NULL' : $wpdb->prepare( '%s', $r[ $col ] );
			}
			$parts[]  = $wpdb->prepare( '%d, %s, %s', $r['tasks_open'], $r['tasks'], $now );
			$values[] = '(' . implode( ', ', $parts ) . ')';
		}
		$cols   = 'id, action, status, source, email_hash, received_at, due_at, completed_at, systems, retained_until, export_url, tasks_open, tasks, updated_at';
		$update = array();
		foreach ( explode( ', ', $cols ) as $col ) {
			if ( 'id' !== $col ) {
				$update[] = "{$col} = VALUES({$col})";
			}
		}
		// Every value above went through $wpdb->prepare().
		$sql = "INSERT INTO {$table} ({$cols}) VALUES " . implode( ', ', $values ) . ' ON DUPLICATE KEY UPDATE ' . implode( ', ', $update );
		$ok  = $wpdb->query( $sql ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery
		return false === $ok ? 0 : count( $rows );
	}

	/**
	 * The WHERE clause of the list's filters (prepared).
	 *
	 * @param array $filters action, status, system, source, email_hash, overdue (bool).
	 * @return string
	 */
	public static function where( array $filters ) {
		global $wpdb;
		$where = array( '1=1' );
		foreach ( array( 'action', 'status', 'source', 'email_hash' ) as $col ) {
			if ( isset( $filters[ $col ] ) && '' !== $filters[ $col ] ) {
				$where[] = $wpdb->prepare( "{$col} = %s", (string) $filters[ $col ] ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- column from a fixed list.
			}
		}
		if ( ! empty( $filters['system'] ) ) {
			$where[] = $wpdb->prepare( 'systems LIKE %s', '%' . $wpdb->esc_like( '"' . $filters['system'] . '"' ) . '%' );
		}
		return implode( ' AND ', $where );
	}

	/**
	 * One page of requests and the total that match.
	 *
	 * @param array  $filters  See where().
	 * @param string $orderby  A key of SORTABLE.
	 * @param string $order    asc|desc.
	 * @param int    $per_page Rows per page.
	 * @param int    $page     Page, from 1.
	 * @return array{rows: array[], total: int}
	 */
	public static function page( array $filters, $orderby, $order, $per_page, $page ) {
		global $wpdb;
		$table  = self::table();
		$where  = self::where( $filters );
		$column = self::SORTABLE[ $orderby ] ?? 'received_at';
		$dir    = 'asc' === strtolower( (string) $order ) ? 'ASC' : 'DESC';
		$limit  = max( 1, min( 500, (int) $per_page ) );
		$offset = ( max( 1, (int) $page ) - 1 ) * $limit;
		// A deferred join: the offset is walked in the (column, id) index alone, and only the
		// page's rows are read whole (a plain OFFSET would read every skipped row).
		$rows  = $wpdb->get_results( $wpdb->prepare( "SELECT t.* FROM {$table} t INNER JOIN ( SELECT id FROM {$table} WHERE {$where} ORDER BY {$column} {$dir}, id {$dir} LIMIT %d OFFSET %d ) k ON k.id = t.id ORDER BY t.{$column} {$dir}, t.id {$dir}", $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- table, where and order from fixed lists / prepared.
		$total = (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$table} WHERE {$where}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		return array(
			'rows'  => (array) $rows,
			'total' => $total,
		);
	}

	/**
	 * The distinct values of a column (for a filter's choices), at most 50.
	 *
	 * @param string $col action|status|source.
	 * @return string[]
	 */
	public static function distinct( $col ) {
		global $wpdb;
		if ( ! in_array( $col, array( 'action', 'status', 'source' ), true ) ) {
			return array();
		}
		$table = self::table();
		return array_map( 'strval', (array) $wpdb->get_col( "SELECT DISTINCT {$col} FROM {$table} ORDER BY {$col} LIMIT 50" ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * A row's systems (system => state).
	 *
	 * @param array $row Row.
	 * @return array
	 */
	public static function systems( array $row ) {
		$systems = json_decode( (string) ( $row['systems'] ?? '' ), true );
		return is_array( $systems ) ? $systems : array();
	}

	/**
	 * A row's open tasks.
	 *
	 * @param array $row Row.
	 * @return array[]
	 */
	public static function tasks( array $row ) {
		$tasks = json_decode( (string) ( $row['tasks'] ?? '' ), true );
		return is_array( $tasks ) ? $tasks : array();
	}
}
