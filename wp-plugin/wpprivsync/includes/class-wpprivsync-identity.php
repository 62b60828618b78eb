<?php
/**
 * Proof of email ownership (docs/IDENTITY.md): which of a user's emails the user has shown to own.
 *
 * An action of a WordPress user reaches ActiveCampaign or the suppression list only for a proven
 * email. Proof is kept per user as keyed hashes (never the address) with how it was proven.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Email ownership.
 */
class Wpprivsync_Identity {

	const META = '_wpprivsync_proven_emails';

	/** How long a mailed confirmation link stays valid. */
	const LINK_TTL = 2 * DAY_IN_SECONDS;

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_action( 'user_register', array( __CLASS__, 'on_user_register' ), 1, 1 );
		add_action( 'profile_update', array( __CLASS__, 'on_profile_update' ), 1, 2 );
		add_action( 'updated_user_meta', array( __CLASS__, 'on_name_changed' ), 10, 4 );
		add_action( 'rest_api_init', array( __CLASS__, 'register_routes' ) );
	}

	/**
	 * GET /wpprivsync/v1/confirm: the signed link mailed to an address. Anyone holding the link
	 * may follow it (it reached the address's owner); the permission callback checks its signature
	 * and expiry.
	 */
	public static function register_routes() {
		register_rest_route(
			'wpprivsync/v1',
			'/confirm',
			array(
				'methods'             => 'GET',
				'callback'            => array( __CLASS__, 'confirm' ),
				'permission_callback' => array( __CLASS__, 'can_confirm' ),
				'args'                => array(
					't' => array(
						'type'     => 'string',
						'required' => true,
					),
				),
			)
		);
	}

	/**
	 * A signed, expiring token: user id, email, source, expiry.
	 *
	 * @param int    $user_id User id (0 for a guest).
	 * @param string $email   Email.
	 * @param string $source  Where the consent was given.
	 * @param int    $expires Unix time.
	 * @return string
	 */
	public static function token( $user_id, $email, $source, $expires ) {
		$body = rtrim( strtr( base64_encode( wp_json_encode( array( (int) $user_id, Wpprivsync_Plugin::normalise_email( $email ), (string) $source, (int) $expires ) ) ), '+/', '-_' ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		return $body . '.' . hash_hmac( 'sha256', 'confirm|' . $body, self::key() );
	}

	/**
	 * The token's content when its signature holds and it has not expired, else null.
	 *
	 * @param string $token Token.
	 * @return array|null
	 */
	public static function read_token( $token ) {
		$parts = explode( '.', (string) $token );
		if ( 2 !== count( $parts ) || ! hash_equals( hash_hmac( 'sha256', 'confirm|' . $parts[0], self::key() ), $parts[1] ) ) {
			return null;
		}
		$data = json_decode( (string) base64_decode( strtr( $parts[0], '-_', '+/' ) ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		if ( ! is_array( $data ) || 4 !== count( $data ) || (int) $data[3] < time() ) {
			return null;
		}
		return array(
			'user_id' => (int) $data[0],
			'email'   => (string) $data[1],
			'source'  => (string) $data[2],
		);
	}

	/**
	 * The signing key (the plugin's hash key).
	 *
	 * @return string
	 */
	private static function key() {
		Wpprivsync_Plugin::email_hash( 'x@example.com' ); // Creates the key on first use.
		return (string) get_option( Wpprivsync_Plugin::OPTION_HASH_KEY );
	}

	/**
	 * Mails the double opt-in link to an address not proven yet.
	 *
	 * @param int    $user_id User id (0 for a guest).
	 * @param string $email   Email.
	 * @param string $source  Where the consent was given.
	 */
	public static function send_link( $user_id, $email, $source ) {
		$url = add_query_arg( 't', self::token( $user_id, $email, $source, time() + self::LINK_TTL ), rest_url( 'wpprivsync/v1/confirm' ) );
		wp_mail(
			$email,
			__( 'Please confirm your newsletter subscription', 'wpprivsync' ),
			/* translators: %s: the confirmation link. */
			sprintf( __( "Someone asked for the newsletter to be sent to this address. If it was you, confirm here (the link expires in two days):\n\n%s\n\nIf it was not you, ignore this mail: nothing changes.", 'wpprivsync' ), $url )
		);
	}

	/**
	 * Permission callback of /confirm: a valid, unexpired signature.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public static function can_confirm( WP_REST_Request $request ) {
		return null === self::read_token( $request['t'] ) ? new WP_Error( 'wpprivsync_bad_link', __( 'This confirmation link is invalid or has expired.', 'wpprivsync' ), array( 'status' => 403 ) ) : true;
	}

	/**
	 * GET /confirm: the address's owner confirmed; the consent goes on with proof 'link'.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function confirm( WP_REST_Request $request ) {
		$t = self::read_token( $request['t'] );
		if ( $t['user_id'] > 0 ) {
			$user = get_userdata( $t['user_id'] );
			if ( ! $user || Wpprivsync_Plugin::normalise_email( $user->user_email ) !== $t['email'] ) {
				return new WP_Error( 'wpprivsync_link_stale', __( 'This account no longer has that email.', 'wpprivsync' ), array( 'status' => 409 ) );
			}
			self::prove( $t['user_id'], $t['email'], 'link' );
			if ( ! Wpprivsync_Consent::user_consent( $t['user_id'] ) ) {
				return rest_ensure_response( array( 'confirmed' => true ) );
			}
		}
		Wpprivsync_Outbox::record(
			'consent.changed',
			array(
				'user_id' => $t['user_id'],
				'email'   => $t['email'],
				'consent' => true,
				'source'  => $t['source'],
				'proof'   => 'link',
				'wording' => Wpprivsync_Consent::wording_version(),
			)
		);
		return rest_ensure_response( array( 'confirmed' => true ) );
	}

	/**
	 * The email an account is created with is proven: a self-registered person sets their
	 * password through the link mailed to it; an administrator or the site's code vouches otherwise.
	 *
	 * @param int $user_id User id.
	 */
	public static function on_user_register( $user_id ) {
		$user = get_userdata( (int) $user_id );
		if ( $user ) {
			self::prove( (int) $user_id, $user->user_email, 'registration' );
		}
	}

	/**
	 * An email change is proven only through core's confirmation link (`_new_email`), by an
	 * administrator editing someone else, or by the site's own code (no logged-in user). A user
	 * changing their own email at once (REST `POST /wp/v2/users/me`) proves nothing.
	 *
	 * @param int     $user_id  User id.
	 * @param WP_User $old_user The user before the change.
	 */
	public static function on_profile_update( $user_id, $old_user = null ) {
		$user = get_userdata( (int) $user_id );
		if ( ! $user || ! $old_user instanceof WP_User ) {
			return;
		}
		$new = Wpprivsync_Plugin::normalise_email( $user->user_email );
		if ( Wpprivsync_Plugin::normalise_email( $old_user->user_email ) === $new ) {
			return;
		}
		if ( '' === get_user_meta( (int) $user_id, self::META, true ) ) {
			self::prove( (int) $user_id, $old_user->user_email, 'legacy' );
		}
		$method  = '';
		$pending = get_user_meta( (int) $user_id, '_new_email', true );
		$current = get_current_user_id();
		if ( is_array( $pending ) && isset( $pending['newemail'] ) && Wpprivsync_Plugin::normalise_email( $pending['newemail'] ) === $new ) {
			$method = 'core-confirmation';
		} elseif ( 0 === $current ) {
			$method = 'site-code';
		} elseif ( (int) $user_id !== $current && current_user_can( 'edit_users' ) ) {
			$method = 'admin';
		}
		if ( '' !== $method ) {
			self::prove( (int) $user_id, $new, $method );
			self::record_email_changed( (int) $user_id, $old_user->user_email, $new, $method );
			return;
		}
		self::record_unproven( (int) $user_id, $new, 'email-changed' );
	}

	/**
	 * Tells the daemon about a proven email change (docs/IDENTITY.md, "Linked records"): it keeps
	 * both addresses linked to the person and rectifies the ActiveCampaign contact. Both
	 * addresses and the names leave the outbox copy when it is acknowledged.
	 *
	 * @param int    $user_id User id.
	 * @param string $old     The email before the change.
	 * @param string $new     The proven email now.
	 * @param string $method  How the new email was proven.
	 */
	public static function record_email_changed( $user_id, $old, $new, $method ) {
		Wpprivsync_Outbox::record(
			'identity.email_changed',
			array(
				'user_id'    => (int) $user_id,
				'email'      => Wpprivsync_Plugin::normalise_email( $new ),
				'old_email'  => Wpprivsync_Plugin::normalise_email( $old ),
				'proof'      => (string) $method,
				'first_name' => (string) get_user_meta( (int) $user_id, 'first_name', true ),
				'last_name'  => (string) get_user_meta( (int) $user_id, 'last_name', true ),
			)
		);
	}

	/**
	 * A changed first or last name (the updated_user_meta action, which fires only when the value
	 * changed) is sent for rectification, when the account's email is proven.
	 *
	 * @param int    $meta_id    Meta id.
	 * @param int    $user_id    User id.
	 * @param string $meta_key   Meta key.
	 * @param mixed  $meta_value New value.
	 */
	public static function on_name_changed( $meta_id, $user_id, $meta_key, $meta_value ) {
		if ( 'first_name' !== $meta_key && 'last_name' !== $meta_key ) {
			return;
		}
		$user = get_userdata( (int) $user_id );
		if ( ! $user || '' === self::proof( (int) $user_id, $user->user_email ) ) {
			return;
		}
		Wpprivsync_Outbox::record(
			'profile.name_changed',
			array(
				'user_id'    => (int) $user_id,
				'email'      => Wpprivsync_Plugin::normalise_email( $user->user_email ),
				'first_name' => 'first_name' === $meta_key ? (string) $meta_value : (string) get_user_meta( (int) $user_id, 'first_name', true ),
				'last_name'  => 'last_name' === $meta_key ? (string) $meta_value : (string) get_user_meta( (int) $user_id, 'last_name', true ),
			)
		);
	}

	/**
	 * Records that a user proved an email.
	 *
	 * @param int    $user_id User id.
	 * @param string $email   Email.
	 * @param string $method  How it was proven.
	 */
	public static function prove( $user_id, $email, $method ) {
		$proven = get_user_meta( (int) $user_id, self::META, true );
		$proven = is_array( $proven ) ? $proven : array();
		$proven[ Wpprivsync_Plugin::email_hash( $email ) ] = array(
			'method' => (string) $method,
			'at'     => gmdate( 'c' ),
		);
		update_user_meta( (int) $user_id, self::META, $proven );
	}

	/**
	 * How a user proved an email ('' when not proven; 'legacy' for an account older than this
	 * record whose email has not changed since).
	 *
	 * @param int    $user_id User id.
	 * @param string $email   Email.
	 * @return string
	 */
	public static function proof( $user_id, $email ) {
		$proven = get_user_meta( (int) $user_id, self::META, true );
		if ( '' === $proven ) {
			// An account from before the plugin tracked proof, whose email never changed since.
			return 'legacy';
		}
		$key = Wpprivsync_Plugin::email_hash( $email );
		return is_array( $proven ) && isset( $proven[ $key ]['method'] ) ? (string) $proven[ $key ]['method'] : '';
	}

	/**
	 * Records an action refused for an unproven email: the daemon writes it to the audit log under
	 * its keyed hash and does nothing outside WordPress.
	 *
	 * @param int    $user_id User id.
	 * @param string $email   Email.
	 * @param string $what    What was attempted.
	 */
	public static function record_unproven( $user_id, $email, $what ) {
		Wpprivsync_Outbox::record(
			'identity.unproven',
			array(
				'user_id' => (int) $user_id,
				'email'   => Wpprivsync_Plugin::normalise_email( $email ),
				'attempt' => (string) $what,
			)
		);
	}
}
