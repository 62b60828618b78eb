<?php
/**
 * WordPress's own Tools → Erase Personal Data, finished honestly: when the admin's browser has
 * run every eraser, the account goes too (as for every other erasure source; never editors,
 * administrators or the daemon's service account), and the request goes back to "Confirmed"
 * with a note until the daemon reports every other system done; then it is completed.
 *
 * The link between the two: wpprivsync's eraser records `erasure.requested` with the
 * user_request id; once the daemon has acknowledged that event its stored payload holds the
 * daemon's keyed hash of the email; the daemon's heartbeat lists its requests by that hash with
 * their status.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Core's erasure flow, completed by the daemon.
 */
class Wpprivsync_Core_Erasure {

	/** User-request meta: when core's erasers finished and the daemon's systems were still pending. */
	const WAITING_META = '_wpprivsync_waiting_since';

	/**
	 * Hooks.
	 */
	public static function register() {
		add_action( 'wp_privacy_personal_data_erased', array( __CLASS__, 'after_core_erasure' ), 20, 1 );
		add_action( 'add_option_' . Wpprivsync_Plugin::OPTION_HEARTBEAT, array( __CLASS__, 'on_heartbeat_added' ), 10, 2 );
		add_action( 'update_option_' . Wpprivsync_Plugin::OPTION_HEARTBEAT, array( __CLASS__, 'on_heartbeat_updated' ), 10, 2 );
		add_action( 'admin_notices', array( __CLASS__, 'notice' ) );
	}

	/**
	 * Core finished its erasers for a request. For a request from core's own tools (not the
	 * daemon's REST erasure, which runs muted): delete the account, and keep the request open
	 * while the daemon works.
	 *
	 * @param int $request_id The user_request id.
	 */
	public static function after_core_erasure( $request_id ) {
		if ( Wpprivsync_Outbox::is_muted() ) {
			return; // The daemon's own erasure: it deletes the account and completes the request itself.
		}
		$request = wp_get_user_request( (int) $request_id );
		if ( ! $request || 'remove_personal_data' !== $request->action_name ) {
			return;
		}
		Wpprivsync_Outbox::muted(
			static function () use ( $request ) {
				Wpprivsync_Privacy::delete_account_of( Wpprivsync_Plugin::normalise_email( $request->email ) );
			}
		);
		wp_update_post(
			array(
				'ID'          => (int) $request_id,
				'post_status' => 'request-confirmed',
			)
		);
		delete_post_meta( (int) $request_id, '_wp_user_request_completed_timestamp' );
		update_post_meta( (int) $request_id, self::WAITING_META, time() );
	}

	/**
	 * The heartbeat option was written for the first time.
	 *
	 * @param string $option Option name.
	 * @param mixed  $value  The heartbeat.
	 */
	public static function on_heartbeat_added( $option, $value ) {
		self::complete_finished( $value );
	}

	/**
	 * The heartbeat option was updated.
	 *
	 * @param mixed $old   Previous heartbeat.
	 * @param mixed $value The heartbeat.
	 */
	public static function on_heartbeat_updated( $old, $value ) {
		self::complete_finished( $value );
	}

	/**
	 * Completes the waiting requests whose erasure the daemon reports done.
	 *
	 * @param mixed $beat The heartbeat.
	 * @return int How many were completed.
	 */
	public static function complete_finished( $beat ) {
		if ( ! is_array( $beat ) || empty( $beat['requests'] ) ) {
			return 0;
		}
		$done = array();
		foreach ( (array) $beat['requests'] as $r ) {
			if ( is_array( $r ) && 'erase' === ( $r['action'] ?? '' ) && 'done' === ( $r['status'] ?? '' ) && ! empty( $r['email_hash'] ) ) {
				$done[ strtolower( (string) $r['email_hash'] ) ] = true;
			}
		}
		$n = 0;
		foreach ( self::waiting() as $request_id ) {
			$hash = self::daemon_hash( $request_id );
			if ( null !== $hash && isset( $done[ $hash ] ) ) {
				require_once ABSPATH . 'wp-admin/includes/privacy-tools.php';
				_wp_privacy_completed_request( $request_id );
				delete_post_meta( $request_id, self::WAITING_META );
				++$n;
			}
		}
		return $n;
	}

	/**
	 * Ids of the requests waiting for the daemon.
	 *
	 * @return int[]
	 */
	public static function waiting() {
		return array_map(
			'intval',
			get_posts(
				array(
					'post_type'      => 'user_request',
					'post_status'    => 'request-confirmed',
					'meta_key'       => self::WAITING_META, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_query_meta_key -- a handful of open requests.
					'posts_per_page' => 100,
					'fields'         => 'ids',
				)
			)
		);
	}

	/**
	 * The daemon's keyed hash of the request's email, from its acknowledged erasure.requested
	 * event (null while the daemon has not taken it).
	 *
	 * @param int $request_id The user_request id.
	 * @return string|null
	 */
	private static function daemon_hash( $request_id ) {
		global $wpdb;
		$table   = Wpprivsync_Outbox::table();
		$payload = $wpdb->get_var( $wpdb->prepare( "SELECT payload FROM {$table} WHERE dedupe_key = %s AND acked_at IS NOT NULL", Wpprivsync_Outbox::stored_key( 'erasure.requested:' . (int) $request_id ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the plugin's table.
		$data    = is_string( $payload ) ? json_decode( $payload, true ) : null;
		return is_array( $data ) && ! empty( $data['email_hash'] ) ? strtolower( (string) $data['email_hash'] ) : null;
	}

	/**
	 * On Tools → Erase Personal Data: which requests wait for the other systems.
	 */
	public static function notice() {
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		if ( ! $screen || ( 'tools_page_remove_personal_data' !== $screen->id && 'erase-personal-data' !== $screen->id ) ) {
			return;
		}
		$waiting = self::waiting();
		if ( ! $waiting ) {
			return;
		}
		echo '<div class="notice notice-info wpprivsync-waiting"><p>';
		echo esc_html(
			sprintf(
				/* translators: %s: request ids. */
				_n(
					'Privacy Sync: request %s is erased in WordPress; ActiveCampaign and the other systems are pending. It shows Completed when the wpprivsync daemon reports every system done.',
					'Privacy Sync: requests %s are erased in WordPress; ActiveCampaign and the other systems are pending. They show Completed when the wpprivsync daemon reports every system done.',
					count( $waiting ),
					'wpprivsync'
				),
				implode( ', ', $waiting )
			)
		);
		echo '</p></div>';
	}
}
