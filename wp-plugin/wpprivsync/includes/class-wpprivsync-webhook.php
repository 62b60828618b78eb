<?php
/**
 * ActiveCampaign webhook intake: unsubscribes and subscribes become outbox events.
 *
 * ActiveCampaign signs nothing and cannot send credentials, so the route is public; the
 * long random secret in the URL is the credential, compared in constant time. The intake
 * only validates and INSERTs (no network), so it answers fast.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The intake route.
 */
class Wpprivsync_Webhook {

	const ROUTE = '/webhook/activecampaign/(?P<secret>[^/]+)';

	/**
	 * Default replay window in seconds: a delivery whose date_time is further than this from now
	 * (in either direction) is refused, so a captured request cannot be replayed forever. The
	 * option OPTION_WINDOW (seconds; 0 turns the check off) or the filter
	 * "wpprivsync_webhook_window" change it. ActiveCampaign's date_time may be in the account's
	 * time zone without an offset, so the window must stay well above a day.
	 */
	const DEFAULT_WINDOW = 604800;
	const MIN_WINDOW     = 86400;
	const OPTION_WINDOW  = Wpprivsync_Plugin::OPTION_WEBHOOK_WINDOW;

	/** Largest delivery body accepted, in bytes (a real one is well under 4 KB): above, 413. */
	const MAX_BODY = 65536;
	/** Longest accepted value per field, in characters: above, 400 naming the field. */
	const MAX_LENGTHS = array(
		'type'           => 32,
		'date_time'      => 64,
		'contact[email]' => 254,
		'initiated_by'   => 64,
	);
	/** Most lists one delivery may name. */
	const MAX_LISTS = 100;

	/** ActiveCampaign event type => outbox event type. */
	const TYPES = array(
		'unsubscribe' => 'newsletter.unsubscribed',
		'subscribe'   => 'newsletter.subscribed',
		'update'      => 'contact.updated',
	);

	/**
	 * Registers the route.
	 */
	public static function register_routes() {
		register_rest_route(
			Wpprivsync_Plugin::REST_NAMESPACE,
			self::ROUTE,
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'receive' ),
				// Public on purpose: ActiveCampaign cannot log in. The secret is checked here, before
				// the body is even looked at, so a wrong secret is 403 whatever the body.
				'permission_callback' => array( __CLASS__, 'check_secret' ),
				'args'                => array(
					'secret' => array(
						'type'     => 'string',
						'required' => true,
					),
				),
			)
		);
	}

	/**
	 * The intake URL to paste into ActiveCampaign.
	 *
	 * @return string
	 */
	public static function url() {
		return rest_url( Wpprivsync_Plugin::REST_NAMESPACE . '/webhook/activecampaign/' . self::secret() );
	}

	/**
	 * The current secret.
	 *
	 * @return string
	 */
	public static function secret() {
		$secret = get_option( Wpprivsync_Plugin::OPTION_WEBHOOK_SECRET );
		if ( ! is_string( $secret ) || strlen( $secret ) < 48 ) {
			$secret = self::rotate();
		}
		return $secret;
	}

	/**
	 * Replaces the secret; the old URL stops working at once.
	 *
	 * @return string The new secret.
	 */
	public static function rotate() {
		$secret = Wpprivsync_Installer::random_secret( 48 );
		update_option( Wpprivsync_Plugin::OPTION_WEBHOOK_SECRET, $secret, false );
		return $secret;
	}

	/**
	 * Permission callback: the secret in the URL must match.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public static function check_secret( WP_REST_Request $request ) {
		$params = $request->get_url_params();
		$given  = isset( $params['secret'] ) ? (string) $params['secret'] : '';
		if ( '' !== $given && hash_equals( self::secret(), $given ) ) {
			return true;
		}
		return new WP_Error( 'wpprivsync_bad_secret', __( 'Unknown webhook address.', 'wpprivsync' ), array( 'status' => 403 ) );
	}

	/**
	 * Parses and records one delivery.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function receive( WP_REST_Request $request ) {
		$length = max( strlen( (string) $request->get_body() ), (int) $request->get_header( 'content_length' ) );
		if ( $length > self::MAX_BODY ) {
			return new WP_Error(
				'wpprivsync_webhook_too_large',
				/* translators: %d: the limit in bytes. */
				sprintf( __( 'The delivery is larger than %d bytes.', 'wpprivsync' ), self::MAX_BODY ),
				array( 'status' => 413 )
			);
		}
		$body = $request->get_body_params();
		if ( ! $body ) {
			$body = $request->get_json_params();
		}
		$parsed = self::parse( is_array( $body ) ? $body : array() );
		if ( is_wp_error( $parsed ) ) {
			return $parsed;
		}
		if ( null === $parsed ) {
			return rest_ensure_response( array( 'recorded' => 0 ) );
		}
		$recorded = 0;
		if ( 'update' === $parsed['type'] ) {
			// A contact's details changed in ActiveCampaign: the daemon follows a changed email
			// in its links (never a WordPress account's email). Without a contact id it says nothing.
			if ( $parsed['contact_id'] > 0 ) {
				$key       = 'ac:' . hash( 'sha256', implode( '|', array( 'update', $parsed['contact_id'], $parsed['email'], $parsed['date_time'] ) ) );
				$recorded += Wpprivsync_Outbox::record(
					'contact.updated',
					array(
						'email'      => $parsed['email'],
						'contact_id' => $parsed['contact_id'],
						'date_time'  => $parsed['date_time'],
					),
					$key
				) > 0 ? 1 : 0;
			}
			return rest_ensure_response( array( 'recorded' => $recorded ) );
		}
		foreach ( $parsed['lists'] as $list_id ) {
			$payload = array(
				'email'        => $parsed['email'],
				'list_id'      => $list_id,
				'contact_id'   => $parsed['contact_id'],
				'date_time'    => $parsed['date_time'],
				'initiated_by' => $parsed['initiated_by'],
			);
			$key     = 'ac:' . hash( 'sha256', implode( '|', array( $parsed['type'], $parsed['contact_id'], $parsed['email'], $list_id, $parsed['date_time'] ) ) );
			if ( Wpprivsync_Outbox::record( self::TYPES[ $parsed['type'] ], $payload, $key ) > 0 ) {
				++$recorded;
			}
		}
		return rest_ensure_response( array( 'recorded' => $recorded ) );
	}

	/**
	 * Validates a delivery.
	 *
	 * @param array $body Form fields as PHP parsed them (contact[email] → ['contact']['email']).
	 * @return array|null|WP_Error Null when the delivery is valid but records nothing.
	 */
	public static function parse( array $body ) {
		foreach ( self::MAX_LENGTHS as $field => $max ) {
			$value = 'contact[email]' === $field ? ( is_array( $body['contact'] ?? null ) ? ( $body['contact']['email'] ?? null ) : null ) : ( $body[ $field ] ?? null );
			if ( is_string( $value ) && strlen( $value ) > $max ) {
				return self::malformed( $field );
			}
		}
		$type = isset( $body['type'] ) && is_string( $body['type'] ) ? sanitize_key( $body['type'] ) : '';
		if ( '' === $type ) {
			return self::malformed( 'type' );
		}
		$date_time = isset( $body['date_time'] ) && is_string( $body['date_time'] ) ? sanitize_text_field( $body['date_time'] ) : '';
		$when      = '' === $date_time ? false : strtotime( $date_time );
		if ( false === $when ) {
			return self::malformed( 'date_time' );
		}
		$window = self::window();
		if ( $window > 0 && abs( time() - $when ) > $window ) {
			return new WP_Error(
				'wpprivsync_webhook_stale',
				/* translators: %d: the window in hours. */
				sprintf( __( 'The delivery\'s date_time is more than %d hours from now; an old delivery is not replayed.', 'wpprivsync' ), (int) ( $window / 3600 ) ),
				array( 'status' => 400 )
			);
		}
		if ( ! isset( self::TYPES[ $type ] ) ) {
			// Any other event (sent, open, click, ...) means nothing to the tool.
			return null;
		}
		$contact = isset( $body['contact'] ) && is_array( $body['contact'] ) ? $body['contact'] : array();
		$email   = isset( $contact['email'] ) && is_string( $contact['email'] ) ? Wpprivsync_Plugin::normalise_email( $contact['email'] ) : '';
		if ( ! is_email( $email ) ) {
			return self::malformed( 'contact[email]' );
		}
		$contact_id = isset( $contact['id'] ) && is_scalar( $contact['id'] ) && ctype_digit( (string) $contact['id'] ) ? (int) $contact['id'] : 0;
		$lists      = self::lists( $body['list'] ?? null );
		if ( null === $lists || count( $lists ) > self::MAX_LISTS ) {
			return self::malformed( 'list' );
		}
		return array(
			'type'         => $type,
			'email'        => $email,
			'contact_id'   => $contact_id,
			'lists'        => $lists ? $lists : array( 0 ),
			'date_time'    => $date_time,
			'initiated_by' => isset( $body['initiated_by'] ) && is_scalar( $body['initiated_by'] ) ? sanitize_text_field( (string) $body['initiated_by'] ) : '',
		);
	}

	/**
	 * The replay window in seconds (0: off); never below MIN_WINDOW when on.
	 *
	 * @return int
	 */
	public static function window() {
		$option = get_option( self::OPTION_WINDOW, self::DEFAULT_WINDOW );
		$window = (int) apply_filters( 'wpprivsync_webhook_window', is_numeric( $option ) ? (int) $option : self::DEFAULT_WINDOW );
		return $window <= 0 ? 0 : max( self::MIN_WINDOW, $window );
	}

	/**
	 * List ids from `list=3` or `list[][id]=3&list[][id]=4` (PHP parses both into "list").
	 *
	 * @param mixed $list The field.
	 * @return int[]|null Null when malformed.
	 */
	private static function lists( $list ) {
		if ( null === $list || '' === $list ) {
			return array();
		}
		if ( is_scalar( $list ) ) {
			return ctype_digit( (string) $list ) ? array( (int) $list ) : null;
		}
		if ( ! is_array( $list ) ) {
			return null;
		}
		$ids = array();
		foreach ( $list as $key => $entry ) {
			$value = is_array( $entry ) ? ( $entry['id'] ?? null ) : ( 'id' === $key ? $entry : null );
			if ( null === $value ) {
				continue;
			}
			if ( ! is_scalar( $value ) || ! ctype_digit( (string) $value ) ) {
				return null;
			}
			$ids[] = (int) $value;
		}
		return array_values( array_unique( $ids ) );
	}

	/**
	 * A 400 naming the bad field.
	 *
	 * @param string $field Field.
	 * @return WP_Error
	 */
	private static function malformed( $field ) {
		/* translators: %s: field name. */
		return new WP_Error( 'wpprivsync_bad_webhook', sprintf( __( 'Missing or invalid field: %s', 'wpprivsync' ), $field ), array( 'status' => 400 ) );
	}
}
