<?php
/**
 * The wpprivsync exporter for core's Tools → Export Personal Data: the data of the systems the
 * plugin never calls itself (ActiveCampaign, WebinarJam), delivered by the daemon.
 *
 * The first call for a request records core_export.requested in the outbox and answers
 * done => false, so core calls again; each later call waits a moment and looks for the daemon's
 * answer (POST wpprivsync/v1/core-export). After WAIT_SECONDS without one it answers a clear
 * "not available" item instead. The answer is kept encrypted at rest (AES-256-GCM, key derived
 * from the site's salts) in a non-autoloaded option, and deleted as soon as core has built the
 * export file (wp_privacy_personal_data_export_file_created); the next run's first page replaces it.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Core exporter fed by the daemon.
 */
class Wpprivsync_Core_Exporter {

	const EXPORTER_ID   = 'wpprivsync-other-systems';
	const OPTION_PREFIX = 'wpprivsync_cx_';
	const WAIT_SECONDS  = 60;
	const POLL_SLEEP    = 2;
	const MAX_BYTES     = 2097152;

	/**
	 * Hooks.
	 */
	public static function register() {
		add_filter( 'wp_privacy_personal_data_exporters', array( __CLASS__, 'register_exporter' ) );
		add_action( 'wp_privacy_personal_data_export_file_created', array( __CLASS__, 'file_created' ), 10, 4 );
		add_action( 'rest_api_init', array( __CLASS__, 'register_routes' ) );
	}

	/**
	 * Adds the exporter.
	 *
	 * @param array $exporters Exporters.
	 * @return array
	 */
	public static function register_exporter( $exporters ) {
		$exporters[ self::EXPORTER_ID ] = array(
			'exporter_friendly_name' => __( 'Privacy Sync (ActiveCampaign, WebinarJam)', 'wpprivsync' ),
			'callback'               => array( __CLASS__, 'exporter' ),
		);
		return $exporters;
	}

	/**
	 * The route the daemon delivers to.
	 */
	public static function register_routes() {
		register_rest_route(
			Wpprivsync_Plugin::REST_NAMESPACE,
			'/core-export',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'deliver' ),
				'permission_callback' => array( 'Wpprivsync_Rest', 'can_sync' ),
				'args'                => array(
					'email'  => array(
						'type'              => 'string',
						'required'          => true,
						'maxLength'         => 254,
						'validate_callback' => array( 'Wpprivsync_Rest', 'validate_email' ),
						'sanitize_callback' => array( 'Wpprivsync_Plugin', 'normalise_email' ),
					),
					'groups' => array(
						'type'     => 'array',
						'required' => true,
						'maxItems' => 1000,
						'items'    => array( 'type' => 'object' ),
					),
				),
			)
		);
	}

	/**
	 * Option name for one person's pending answer (keyed hash, no email).
	 *
	 * @param string $hash Keyed hash of the email.
	 * @return string
	 */
	private static function option( $hash ) {
		return self::OPTION_PREFIX . substr( $hash, 0, 40 );
	}

	/**
	 * The exporter core calls page after page.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function exporter( $email, $page = 1 ) {
		if ( defined( 'REST_REQUEST' ) && REST_REQUEST ) {
			// The daemon's own export over REST: it reads those systems itself.
			return array(
				'data' => array(),
				'done' => true,
			);
		}
		$hash  = Wpprivsync_Plugin::email_hash( $email );
		$name  = self::option( $hash );
		$state = get_option( $name, null );
		if ( (int) $page <= 1 || ! is_array( $state ) || empty( $state['asked'] ) ) {
			// Page 1 starts a run of core's export: ask the daemon afresh.
			$state = array( 'asked' => time() );
			update_option( $name, $state, false );
			Wpprivsync_Outbox::record( 'core_export.requested', array( 'email' => Wpprivsync_Plugin::normalise_email( $email ) ) );
			return array(
				'data' => array(),
				'done' => false,
			);
		}
		if ( empty( $state['answer'] ) ) {
			$waited = time() - (int) $state['asked'];
			if ( $waited < self::WAIT_SECONDS ) {
				sleep( self::POLL_SLEEP ); // Paces core's calls; each is one small option read.
				wp_cache_delete( $name, 'options' );
				$state = get_option( $name, array() );
			}
			if ( empty( $state['answer'] ) ) {
				if ( $waited < self::WAIT_SECONDS ) {
					return array(
						'data' => array(),
						'done' => false,
					);
				}
				return array(
					'data' => array(
						array(
							'group_id'    => 'wpprivsync-unavailable',
							'group_label' => __( 'Other systems (ActiveCampaign, WebinarJam)', 'wpprivsync' ),
							'item_id'     => 'wpprivsync-unavailable',
							'data'        => array(
								array(
									'name'  => __( 'Not available', 'wpprivsync' ),
									/* translators: %d: seconds waited */
									'value' => sprintf( __( 'not available: the daemon did not answer in %d s', 'wpprivsync' ), self::WAIT_SECONDS ),
								),
							),
						),
					),
					'done' => true,
				);
			}
		}
		$groups = self::decrypt( $state['answer'] );
		return array(
			'data' => is_array( $groups ) ? $groups : array(),
			'done' => true,
		);
	}

	/**
	 * POST core-export: the daemon's answer for one person, kept encrypted until the file is built.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function deliver( $request ) {
		$hash  = Wpprivsync_Plugin::email_hash( (string) $request['email'] );
		$items = array();
		foreach ( (array) $request['groups'] as $item ) {
			if ( ! is_array( $item ) || empty( $item['group_id'] ) || empty( $item['item_id'] ) || ! isset( $item['data'] ) || ! is_array( $item['data'] ) ) {
				return new WP_Error( 'wpprivsync_bad_item', 'every item needs group_id, group_label, item_id and data', array( 'status' => 400 ) );
			}
			$pairs = array();
			foreach ( $item['data'] as $pair ) {
				if ( ! is_array( $pair ) || ! isset( $pair['name'] ) ) {
					return new WP_Error( 'wpprivsync_bad_item', 'every data pair needs a name and a value', array( 'status' => 400 ) );
				}
				$pairs[] = array(
					'name'  => sanitize_text_field( (string) $pair['name'] ),
					'value' => is_scalar( $pair['value'] ?? '' ) ? (string) ( $pair['value'] ?? '' ) : wp_json_encode( $pair['value'] ),
				);
			}
			$items[] = array(
				'group_id'    => sanitize_key( $item['group_id'] ),
				'group_label' => sanitize_text_field( (string) ( $item['group_label'] ?? $item['group_id'] ) ),
				'item_id'     => sanitize_text_field( (string) $item['item_id'] ),
				'data'        => $pairs,
			);
		}
		$json = wp_json_encode( $items );
		if ( false === $json || strlen( $json ) > self::MAX_BYTES ) {
			return new WP_Error( 'wpprivsync_too_large', 'the answer is too large', array( 'status' => 413 ) );
		}
		$name  = self::option( $hash );
		$state = get_option( $name, null );
		if ( ! is_array( $state ) ) {
			return new WP_Error( 'wpprivsync_not_asked', 'no export is waiting for this person', array( 'status' => 404 ) );
		}
		$state['answer'] = self::encrypt( $json );
		update_option( $name, $state, false );
		return rest_ensure_response( array( 'stored' => true ) );
	}

	/**
	 * Core built the export file: the daemon's answer is no longer needed.
	 *
	 * @param string $archive_pathname Archive path.
	 * @param string $archive_url      Archive URL.
	 * @param string $html_pathname    HTML report path.
	 * @param int    $request_id       Request id.
	 */
	public static function file_created( $archive_pathname, $archive_url, $html_pathname, $request_id ) {
		$request = wp_get_user_request( $request_id );
		if ( $request && $request->email ) {
			delete_option( self::option( Wpprivsync_Plugin::email_hash( $request->email ) ) );
		}
	}

	/**
	 * Key for the answers at rest.
	 *
	 * @return string 32 bytes.
	 */
	private static function key() {
		return hash( 'sha256', wp_salt( 'auth' ) . '|wpprivsync-core-export', true );
	}

	/**
	 * Encrypts with AES-256-GCM.
	 *
	 * @param string $plain Plain text.
	 * @return string base64(iv . tag . cipher text)
	 */
	private static function encrypt( $plain ) {
		$iv     = random_bytes( 12 );
		$tag    = '';
		$cipher = openssl_encrypt( $plain, 'aes-256-gcm', self::key(), OPENSSL_RAW_DATA, $iv, $tag );
		return base64_encode( $iv . $tag . $cipher ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}

	/**
	 * Decrypts; null when it cannot (salts changed).
	 *
	 * @param string $stored Stored value.
	 * @return array|null
	 */
	private static function decrypt( $stored ) {
		$raw = base64_decode( (string) $stored, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		if ( false === $raw || strlen( $raw ) < 29 ) {
			return null;
		}
		$plain = openssl_decrypt( substr( $raw, 28 ), 'aes-256-gcm', self::key(), OPENSSL_RAW_DATA, substr( $raw, 0, 12 ), substr( $raw, 12, 16 ) );
		return false === $plain ? null : json_decode( $plain, true );
	}
}
