<?php
/**
 * The outbox: one row per privacy event, pulled and acknowledged by the daemon.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Records, lists and acknowledges events.
 */
class Wpprivsync_Outbox {

	/** Keys dropped from a payload once acknowledged. */
	const SCRUBBED_KEYS = array( 'display_name', 'name', 'first_name', 'last_name' );

	/**
	 * Depth of work done on the daemon's behalf; while above zero nothing is recorded.
	 *
	 * @var int
	 */
	private static $muted = 0;

	/**
	 * The table name.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'wpprivsync_outbox';
	}

	/**
	 * Runs $fn without recording events: what the daemon asked for must not come back to it.
	 *
	 * @param callable $fn Work.
	 * @return mixed What $fn returned.
	 */
	public static function muted( callable $fn ) {
		++self::$muted;
		try {
			return $fn();
		} finally {
			--self::$muted;
		}
	}

	/**
	 * Whether recording is muted.
	 *
	 * @return bool
	 */
	public static function is_muted() {
		return self::$muted > 0;
	}

	/**
	 * Records one event: a single local INSERT. Never throws, never calls the network.
	 *
	 * @param string      $type       Event type.
	 * @param array       $payload    Payload.
	 * @param string|null $dedupe_key A repeat with the same key records nothing.
	 * @return int The new id, or 0 when muted, a duplicate or failed.
	 */
	public static function record( $type, array $payload, $dedupe_key = null ) {
		if ( self::is_muted() ) {
			return 0;
		}
		global $wpdb;
		try {
			$json = wp_json_encode( $payload );
			if ( false === $json ) {
				throw new RuntimeException( 'payload is not encodable' );
			}
			$table = self::table();
			if ( null === $dedupe_key ) {
				$sql = $wpdb->prepare(
					"INSERT INTO {$table} (type, payload, created_at) VALUES (%s, %s, %s)", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
					$type,
					$json,
					gmdate( 'Y-m-d H:i:s' )
				);
			} else {
				// The unique key makes a repeat a no-op.
				$sql = $wpdb->prepare(
					"INSERT IGNORE INTO {$table} (type, payload, dedupe_key, created_at) VALUES (%s, %s, %s, %s)", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
					$type,
					$json,
					substr( (string) $dedupe_key, 0, 191 ),
					gmdate( 'Y-m-d H:i:s' )
				);
			}
			$suppress = $wpdb->suppress_errors( true );
			$result   = $wpdb->query( $sql ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared
			$wpdb->suppress_errors( $suppress );
			if ( false === $result ) {
				throw new RuntimeException( 'insert failed: ' . $wpdb->last_error );
			}
			return $result > 0 ? (int) $wpdb->insert_id : 0;
		} catch ( Throwable $e ) {
			// A visitor's request must never fail because the outbox could not be written.
			error_log( 'wpprivsync: could not record ' . $type . ' event: ' . $e->getMessage() ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
			return 0;
		}
	}

	/**
	 * Unacknowledged events after an id, oldest first.
	 *
	 * @param int $after Id.
	 * @param int $limit At most this many.
	 * @return array[]
	 */
	public static function pending_after( $after, $limit ) {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT id, type, payload, created_at FROM {$table} WHERE acked_at IS NULL AND id > %d ORDER BY id ASC LIMIT %d", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$after,
				$limit
			),
			ARRAY_A
		);
		$events = array();
		foreach ( (array) $rows as $row ) {
			$payload  = json_decode( $row['payload'], true );
			$events[] = array(
				'id'         => (int) $row['id'],
				'type'       => $row['type'],
				'created_at' => str_replace( ' ', 'T', $row['created_at'] ) . 'Z',
				'payload'    => is_array( $payload ) ? (object) $payload : new stdClass(),
			);
		}
		return $events;
	}

	/**
	 * Counts unacknowledged events (after an id).
	 *
	 * @param int $after Id.
	 * @return int
	 */
	public static function pending_count( $after = 0 ) {
		global $wpdb;
		$table = self::table();
		return (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE acked_at IS NULL AND id > %d", $after ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * The highest id ever recorded.
	 *
	 * @return int
	 */
	public static function last_id() {
		global $wpdb;
		$table = self::table();
		return (int) $wpdb->get_var( "SELECT COALESCE(MAX(id), 0) FROM {$table}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * Acknowledges events and scrubs their personal data.
	 *
	 * @param int[]    $ids    Event ids.
	 * @param string[] $hashes Event id => the daemon's keyed email hash.
	 * @return int How many events were newly acknowledged.
	 */
	public static function ack( array $ids, array $hashes = array() ) {
		global $wpdb;
		$table = self::table();
		$acked = 0;
		$now   = gmdate( 'Y-m-d H:i:s' );
		foreach ( array_unique( array_map( 'intval', $ids ) ) as $id ) {
			$row = $wpdb->get_row( $wpdb->prepare( "SELECT id, payload FROM {$table} WHERE id = %d AND acked_at IS NULL", $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			if ( ! $row ) {
				continue;
			}
			$payload = json_decode( $row['payload'], true );
			$payload = self::scrub( is_array( $payload ) ? $payload : array(), $hashes[ (string) $id ] ?? null );
			$acked  += (int) $wpdb->update(
				$table,
				array(
					'payload'  => wp_json_encode( $payload ),
					'acked_at' => $now,
				),
				array(
					'id'       => $id,
					'acked_at' => null,
				)
			);
		}
		return $acked;
	}

	/**
	 * A payload without plain personal data: the email becomes a keyed hash, names go.
	 *
	 * @param array       $payload Payload.
	 * @param string|null $hash    The daemon's hash of the email, if it sent one.
	 * @return array
	 */
	public static function scrub( array $payload, $hash = null ) {
		if ( isset( $payload['email'] ) ) {
			$payload['email_hash'] = is_string( $hash ) && '' !== $hash ? strtolower( $hash ) : Wpprivsync_Plugin::email_hash( (string) $payload['email'] );
			unset( $payload['email'] );
		}
		foreach ( self::SCRUBBED_KEYS as $key ) {
			unset( $payload[ $key ] );
		}
		return $payload;
	}
}
