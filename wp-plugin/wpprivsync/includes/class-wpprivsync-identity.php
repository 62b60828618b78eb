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

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_action( 'user_register', array( __CLASS__, 'on_user_register' ), 1, 1 );
		add_action( 'profile_update', array( __CLASS__, 'on_profile_update' ), 1, 2 );
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
			return;
		}
		self::record_unproven( (int) $user_id, $new, 'email-changed' );
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
