<?php
/**
 * WordPress hooks that become outbox events: account deletion, comment deletion, completed erasures.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Event capture.
 */
class Wpprivsync_Hooks {

	/**
	 * Users being deleted right now: their meta rows going away are not consent changes.
	 *
	 * @var array<int,bool>
	 */
	private static $deleting = array();

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		// Single site: delete_user fires while the user row still exists (also for bulk deletes
		// and WooCommerce's customer deletion, which call wp_delete_user). On multisite
		// wp_delete_user only removes the user from one site; the account goes in wpmu_delete_user.
		if ( is_multisite() ) {
			add_action( 'wpmu_delete_user', array( __CLASS__, 'on_wpmu_delete_user' ), 10, 2 );
		} else {
			add_action( 'delete_user', array( __CLASS__, 'on_delete_user' ), 10, 3 );
		}
		add_action( 'deleted_user', array( __CLASS__, 'on_deleted_user' ), 10, 1 );
		add_action( 'delete_comment', array( __CLASS__, 'on_delete_comment' ), 10, 2 );
		add_action( 'wp_privacy_personal_data_erased', array( __CLASS__, 'on_personal_data_erased' ), 10, 1 );
	}

	/**
	 * Whether the user is being deleted in this request.
	 *
	 * @param int $user_id User id.
	 * @return bool
	 */
	public static function is_deleting( $user_id ) {
		return isset( self::$deleting[ (int) $user_id ] );
	}

	/**
	 * The delete_user action.
	 *
	 * @param int          $id       User id.
	 * @param int|null     $reassign Reassign posts to.
	 * @param WP_User|null $user     The user (WordPress 5.5+).
	 */
	public static function on_delete_user( $id, $reassign = null, $user = null ) {
		self::account_deleted( (int) $id, $user instanceof WP_User ? $user : get_userdata( (int) $id ) );
	}

	/**
	 * The wpmu_delete_user action.
	 *
	 * @param int          $id   User id.
	 * @param WP_User|null $user The user.
	 */
	public static function on_wpmu_delete_user( $id, $user = null ) {
		self::account_deleted( (int) $id, $user instanceof WP_User ? $user : get_userdata( (int) $id ) );
	}

	/**
	 * Forgets the deletion guard.
	 *
	 * @param int $id User id.
	 */
	public static function on_deleted_user( $id ) {
		unset( self::$deleting[ (int) $id ] );
	}

	/**
	 * Records account.deleted with what is known before the row goes.
	 *
	 * @param int           $id   User id.
	 * @param WP_User|false $user The user.
	 */
	private static function account_deleted( $id, $user ) {
		self::$deleting[ $id ] = true;
		try {
			if ( ! $user instanceof WP_User ) {
				return;
			}
			if ( '' === Wpprivsync_Identity::proof( $id, $user->user_email ) ) {
				// Never proven: erasing it outside WordPress would erase someone else.
				Wpprivsync_Identity::record_unproven( $id, $user->user_email, 'account-deleted' );
				return;
			}
			Wpprivsync_Outbox::record(
				'account.deleted',
				array(
					'user_id'            => $id,
					'email'              => Wpprivsync_Plugin::normalise_email( $user->user_email ),
					'display_name'       => (string) $user->display_name,
					'roles'              => array_values( (array) $user->roles ),
					'newsletter_consent' => Wpprivsync_Consent::user_consent( $id ),
				),
				'account.deleted:' . $id . ':' . strtolower( $user->user_email )
			);
		} catch ( Throwable $e ) {
			error_log( 'wpprivsync: account.deleted not recorded: ' . $e->getMessage() ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		}
	}

	/**
	 * The delete_comment action (fires before a comment is deleted for good).
	 *
	 * @param int             $comment_id Comment id.
	 * @param WP_Comment|null $comment    The comment.
	 */
	public static function on_delete_comment( $comment_id, $comment = null ) {
		if ( ! $comment instanceof WP_Comment ) {
			$comment = get_comment( $comment_id );
		}
		if ( ! $comment instanceof WP_Comment || '' === trim( (string) $comment->comment_author_email ) ) {
			return;
		}
		Wpprivsync_Outbox::record(
			'comment.deleted',
			array(
				'email'      => Wpprivsync_Plugin::normalise_email( $comment->comment_author_email ),
				'comment_id' => (int) $comment->comment_ID,
				'post_id'    => (int) $comment->comment_post_ID,
			),
			'comment.deleted:' . (int) $comment->comment_ID
		);
	}

	/**
	 * The wp_privacy_personal_data_erased action (core finished every eraser of a request).
	 *
	 * @param int $request_id The user_request id.
	 */
	public static function on_personal_data_erased( $request_id ) {
		$request = wp_get_user_request( (int) $request_id );
		if ( ! $request ) {
			return;
		}
		Wpprivsync_Outbox::record(
			'erasure.completed',
			array(
				'email'      => Wpprivsync_Plugin::normalise_email( $request->email ),
				'request_id' => (int) $request_id,
			),
			'erasure.completed:' . (int) $request_id
		);
	}
}
