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

	/** Longest string kept in a payload field, in characters; longer ones are cut. */
	const MAX_FIELD = 1024;
	/** Largest payload recorded, in bytes of JSON; a bigger one is not recorded (and logged). */
	const MAX_PAYLOAD = 16384;
	/** A page of GET /events holds at most this many bytes of payload (and at least one event). */
	const MAX_PAGE_BYTES = 1048576;
	/** Most events in one page (GET /events, POST /events/pull) and in one acknowledgement. */
	const MAX_PAGE = 5000;
	/** Ids one acknowledging UPDATE takes (its CASE of hashes is read once per row). */
	const ACK_CHUNK = 500;
	/** Acknowledged events are deleted after this many days (option OPTION_RETENTION_DAYS). */
	const DEFAULT_RETENTION_DAYS = 30;
	const OPTION_RETENTION_DAYS  = Wpprivsync_Plugin::OPTION_OUTBOX_DAYS;
	const OPTION_PURGED_AT       = Wpprivsync_Plugin::OPTION_OUTBOX_PURGED;
	/** Rows deleted per statement, so a purge never holds a long lock. */
	const PURGE_CHUNK = 2000;

	/** Keys dropped from a payload once acknowledged. */
	const SCRUBBED_KEYS = array( 'display_name', 'name', 'first_name', 'last_name', 'old_email' );

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
	 * A dedupe key as the table keeps it: the plugin's keyed hash, since a key may name a
	 * person ("account.deleted:ann@example.com") and the outbox must not become a copy of
	 * what an erasure removes (the residue scan found the plain keys).
	 *
	 * @param string $key Dedupe key.
	 * @return string
	 */
	public static function stored_key( $key ) {
		return 'k:' . Wpprivsync_Plugin::keyed_hash( (string) $key );
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
			$json = wp_json_encode( self::bounded( $payload ) );
			if ( false === $json ) {
				throw new RuntimeException( 'payload is not encodable' );
			}
			if ( strlen( $json ) > self::MAX_PAYLOAD ) {
				throw new RuntimeException( 'payload is larger than ' . self::MAX_PAYLOAD . ' bytes' );
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
					self::stored_key( $dedupe_key ),
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
	 * A payload with every string cut to MAX_FIELD characters (recursively).
	 *
	 * @param array $payload Payload.
	 * @return array
	 */
	public static function bounded( array $payload ) {
		foreach ( $payload as $key => $value ) {
			if ( is_string( $value ) && strlen( $value ) > self::MAX_FIELD ) {
				$payload[ $key ] = function_exists( 'mb_substr' ) ? mb_substr( $value, 0, self::MAX_FIELD ) : substr( $value, 0, self::MAX_FIELD );
			} elseif ( is_array( $value ) ) {
				$payload[ $key ] = self::bounded( $value );
			}
		}
		return $payload;
	}

	/**
	 * Unacknowledged events after an id, oldest first: at most $limit of them and, beyond the
	 * first, at most MAX_PAGE_BYTES of payload, so no backlog of large rows can exhaust PHP's
	 * memory. Sizes are read first; only the payloads that fit are loaded.
	 *
	 * @param int $after Id.
	 * @param int $limit At most this many.
	 * @return array[]
	 */
	public static function pending_after( $after, $limit ) {
		global $wpdb;
		$table = self::table();
		$sizes = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT id, LENGTH(payload) AS size FROM {$table} WHERE acked_at IS NULL AND id > %d ORDER BY id ASC LIMIT %d", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$after,
				$limit
			),
			ARRAY_A
		);
		$ids   = array();
		$bytes = 0;
		foreach ( (array) $sizes as $row ) {
			$bytes += (int) $row['size'];
			if ( $ids && $bytes > self::MAX_PAGE_BYTES ) {
				break;
			}
			$ids[] = (int) $row['id'];
		}
		if ( ! $ids ) {
			return array();
		}
		// The same rows by their range, not an IN list of up to MAX_PAGE ids to prepare.
		$rows   = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT id, type, payload, created_at FROM {$table} WHERE acked_at IS NULL AND id > %d AND id <= %d ORDER BY id ASC LIMIT %d", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$after,
				end( $ids ),
				count( $ids )
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
	 * One UPDATE per ACK_CHUNK ids: MariaDB's JSON functions swap each email for the daemon's
	 * hash and drop the names inside the statement, so nothing is read first. An event whose
	 * payload holds an email the daemon sent no hash for (or is not JSON) is left to a second
	 * pass that hashes in PHP. That pass runs only when the UPDATE acknowledged fewer events
	 * than asked (one unknown or already acknowledged id costs one SELECT); the daemon sends a
	 * hash for every valid email, so a page it acknowledges is one statement per ACK_CHUNK ids.
	 *
	 * @param int[]    $ids    Event ids.
	 * @param string[] $hashes Event id => the daemon's keyed email hash.
	 * @return int How many events were newly acknowledged.
	 */
	public static function ack( array $ids, array $hashes = array() ) {
		global $wpdb;
		$table = self::table();
		$ids   = array_values( array_unique( array_filter( array_map( 'intval', $ids ) ) ) );
		if ( ! $ids ) {
			return 0;
		}
		if ( count( $ids ) > self::ACK_CHUNK ) {
			$acked = 0;
			foreach ( array_chunk( $ids, self::ACK_CHUNK ) as $chunk ) {
				$acked += self::ack( $chunk, $hashes );
			}
			return $acked;
		}
		$now    = gmdate( 'Y-m-d H:i:s' );
		$hashed = array();
		foreach ( $ids as $id ) {
			$hash = $hashes[ (string) $id ] ?? null;
			if ( is_string( $hash ) && 1 === preg_match( '/^[0-9a-fA-F]{16,128}$/', $hash ) ) {
				$hashed[ $id ] = strtolower( $hash );
			}
		}
		$scrubbed = "'$." . implode( "', '$.", self::SCRUBBED_KEYS ) . "'"; // Constant keys.
		$in       = implode( ',', $ids ); // Integers only.
		$has_mail = "JSON_CONTAINS_PATH(payload, 'one', '$.email')";
		if ( $hashed ) {
			$case   = 'CASE id';
			$values = array();
			foreach ( $hashed as $id => $hash ) {
				$case    .= ' WHEN %d THEN %s';
				$values[] = $id;
				$values[] = $hash;
			}
			$case .= ' END';
			$email = "IF({$has_mail}, JSON_SET(payload, '$.email_hash', {$case}), payload)";
			$which = '(id IN (' . implode( ',', array_keys( $hashed ) ) . ") OR {$has_mail} = 0)";
			$sql   = $wpdb->prepare( "UPDATE {$table} SET payload = JSON_REMOVE({$email}, '$.email', {$scrubbed}), acked_at = %s WHERE id IN ({$in}) AND acked_at IS NULL AND JSON_VALID(payload) AND {$which}", array_merge( $values, array( $now ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQLPlaceholders.UnfinishedPrepare -- integers and constant paths only; values are placeholders.
		} else {
			$sql = $wpdb->prepare( "UPDATE {$table} SET payload = JSON_REMOVE(payload, {$scrubbed}), acked_at = %s WHERE id IN ({$in}) AND acked_at IS NULL AND JSON_VALID(payload) AND {$has_mail} = 0", $now ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- integers and constant paths only.
		}
		$acked = (int) $wpdb->query( $sql ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared -- prepared above.
		if ( $acked >= count( $ids ) ) {
			return $acked;
		}
		$rows = $wpdb->get_results( "SELECT id, payload FROM {$table} WHERE id IN ({$in}) AND acked_at IS NULL", ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- integers only.
		foreach ( (array) $rows as $row ) {
			$payload = json_decode( $row['payload'], true );
			$payload = self::scrub( is_array( $payload ) ? $payload : array(), $hashed[ (int) $row['id'] ] ?? null );
			$acked  += (int) $wpdb->update(
				$table,
				array(
					'payload'  => wp_json_encode( $payload ),
					'acked_at' => $now,
				),
				array(
					'id'       => (int) $row['id'],
					'acked_at' => null,
				)
			);
		}
		return $acked;
	}

	/**
	 * How many days acknowledged events are kept: the option, else DEFAULT_RETENTION_DAYS, never
	 * fewer days than the webhook replay window (a purged delivery's duplicate key is gone, so
	 * the window must refuse its replay).
	 *
	 * @return int
	 */
	public static function retention_days() {
		$days   = (int) get_option( self::OPTION_RETENTION_DAYS, self::DEFAULT_RETENTION_DAYS );
		$days   = (int) apply_filters( 'wpprivsync_outbox_retention_days', $days > 0 ? $days : self::DEFAULT_RETENTION_DAYS );
		$window = Wpprivsync_Webhook::window();
		$floor  = $window > 0 ? (int) ceil( $window / DAY_IN_SECONDS ) + 1 : 1;
		return max( $floor, $days );
	}

	/**
	 * Deletes acknowledged events older than the retention period, a chunk at a time. The
	 * daemon's store keeps each event's id with the keyed hash of its email (and the audit
	 * entries of what was done), so nothing the audit needs goes with them.
	 *
	 * @param int|null $days Retention in days; null: retention_days().
	 * @return int How many rows were deleted.
	 */
	public static function purge( $days = null ) {
		global $wpdb;
		$table   = self::table();
		$before  = gmdate( 'Y-m-d H:i:s', time() - ( null === $days ? self::retention_days() : max( 0, (int) $days ) ) * DAY_IN_SECONDS );
		$deleted = 0;
		do {
			$count    = (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE acked_at IS NOT NULL AND acked_at < %s ORDER BY acked_at, id LIMIT %d", $before, self::PURGE_CHUNK ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			$deleted += $count;
		} while ( self::PURGE_CHUNK === $count );
		update_option( self::OPTION_PURGED_AT, time(), false );
		return $deleted;
	}

	/**
	 * Purges at most once an hour (called after each acknowledgement).
	 *
	 * @return int How many rows were deleted.
	 */
	public static function maybe_purge() {
		$last = (int) get_option( self::OPTION_PURGED_AT, 0 );
		return time() - $last >= HOUR_IN_SECONDS ? self::purge() : 0;
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
